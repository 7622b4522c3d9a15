/** The panel's page modules, each registering its routes (panel-plugin.ts). */
import { registerLazily, type PanelRoutes } from '../panel-routes.ts';
import * as instanceTree from './instance-tree.ts';
import * as invoices from './invoices.ts';
import * as nodes from './nodes.ts';
import * as services from './services.ts';
import * as tokens from './tokens.ts';

export const PAGE_MODULES: readonly ((routes: PanelRoutes) => void)[] = [
  services.register,
  instanceTree.register,
  // The request forms validate with ajv: loaded on their first use, not when the master starts.
  (routes) =>
    registerLazily(
      routes,
      [
        'get /request',
        'post /request',
        'get /services/:title/parameters',
        'post /services/:title/parameters',
      ],
      () => import('./request.ts'),
    ),
  nodes.register,
  tokens.register,
  invoices.register,
];
