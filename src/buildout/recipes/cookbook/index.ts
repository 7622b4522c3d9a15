/**
 * The slapos.cookbook recipes implemented natively (profiles.md §3.10–§3.21). Other cookbook
 * recipes stay refused by the registry, with an error naming the section and the recipe.
 */
import type { RecipeMap } from '../../recipe.ts';
import { certificateAuthority, certificateAuthorityRequest } from './certificate-authority.ts';
import { checkParameter } from './check-parameter.ts';
import { checkUrlAvailable } from './check-url-available.ts';
import { cronD, dcron } from './cron.ts';
import { freePortRecipe } from './free-port.ts';
import { generateMac, generatePasswordRecipe } from './generate.ts';
import { slapconfigurationJsonschema } from './jsonschema.ts';
import { mkdirectory } from './mkdirectory.ts';
import { checkPortListening, promisePlugin } from './promise.ts';
import { publish, publishSerialised } from './publish.ts';
import { publishEarly } from './publish-early.ts';
import { request, requestOptional, requestOptionalSerialised, requestSerialised } from './request.ts';
import { slapconfiguration, slapconfigurationSerialised } from './slapconfiguration.ts';
import { NOOP_RECIPE, switchSoftwareType, switchSoftwareTypeNoop } from './switch-softwaretype.ts';
import { simplehttpserver } from './simplehttpserver.ts';
import { simplelogger } from './simplelogger.ts';
import { symbolicLink } from './symbolic-link.ts';
import { urlparse } from './urlparse.ts';
import { userinfo } from './userinfo.ts';
import { wrapper } from './wrapper.ts';

export const COOKBOOK_RECIPES: RecipeMap = {
  'slapos.cookbook:mkdirectory': mkdirectory,
  'slapos.cookbook:wrapper': wrapper,
  'slapos.cookbook:slapconfiguration': slapconfiguration,
  'slapos.cookbook:slapconfiguration.serialised': slapconfigurationSerialised,
  'slapos.cookbook:slapconfiguration.jsonschema': slapconfigurationJsonschema,
  'slapos.cookbook:publish': publish,
  'slapos.cookbook:publish.serialised': publishSerialised,
  'slapos.cookbook:publish-early': publishEarly,
  'slapos.cookbook:request': request,
  'slapos.cookbook:request.serialised': requestSerialised,
  'slapos.cookbook:requestoptional': requestOptional,
  'slapos.cookbook:requestoptional.serialised': requestOptionalSerialised,
  'slapos.cookbook:generate.password': generatePasswordRecipe,
  'slapos.cookbook:generate.mac': generateMac,
  'slapos.cookbook:promise.plugin': promisePlugin,
  'slapos.cookbook:check_port_listening': checkPortListening,
  'slapos.cookbook:cron': dcron,
  'slapos.cookbook:cron.d': cronD,
  'slapos.cookbook:free_port': freePortRecipe,
  'slapos.cookbook:switch-softwaretype': switchSoftwareType,
  [NOOP_RECIPE]: switchSoftwareTypeNoop,
  'slapos.cookbook:symbolic.link': symbolicLink,
  'slapos.cookbook:userinfo': userinfo,
  'slapos.cookbook:simplelogger': simplelogger,
  'slapos.cookbook:check_parameter': checkParameter,
  'slapos.cookbook:check_url_available': checkUrlAvailable,
  'slapos.cookbook:urlparse': urlparse,
  'slapos.cookbook:simplehttpserver': simplehttpserver,
  'slapos.cookbook:certificate_authority': certificateAuthority,
  'slapos.cookbook:certificate_authority.request': certificateAuthorityRequest,
};
