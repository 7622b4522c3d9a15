/** The recipes built into the engine, under their SlapOS names. */
import type { RecipeMap } from '../recipe.ts';
import { slaposRecipeBuild, slaposRecipeBuildDownload, slaposRecipeBuildDownloadUnpacked } from './build.ts';
import { slaposRecipeCmmi } from './cmmi.ts';
import { cnsRecipeSymlink } from './cns-symlink.ts';
import { collectiveRecipeTemplate } from './collective-template.ts';
import { ploneRecipeCommand } from './command.ts';
import { COOKBOOK_RECIPES } from './cookbook/index.ts';
import { slaposRecipeTemplate } from './template.ts';
import { slaposRecipeTemplateJinja2 } from './template-jinja2.ts';

export const BUILTIN_RECIPES: RecipeMap = {
  'slapos.recipe.template': slaposRecipeTemplate,
  'slapos.recipe.template:jinja2': slaposRecipeTemplateJinja2,
  'slapos.recipe.build': slaposRecipeBuild,
  'slapos.recipe.build:download': slaposRecipeBuildDownload,
  'slapos.recipe.build:download-unpacked': slaposRecipeBuildDownloadUnpacked,
  'slapos.recipe.cmmi': slaposRecipeCmmi,
  'plone.recipe.command': ploneRecipeCommand,
  'collective.recipe.template': collectiveRecipeTemplate,
  'cns.recipe.symlink': cnsRecipeSymlink,
  ...COOKBOOK_RECIPES,
};
