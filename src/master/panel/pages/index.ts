/** The panel's page modules, each registering its routes (panel-plugin.ts). */
import type { PanelRoutes } from '../panel-routes.ts';
import * as instanceTree from './instance-tree.ts';
import * as request from './request.ts';
import * as services from './services.ts';

export const PAGE_MODULES: readonly ((routes: PanelRoutes) => void)[] = [
  services.register,
  instanceTree.register,
  request.register,
];
