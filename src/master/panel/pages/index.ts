/** The panel's page modules, each registering its routes (panel-plugin.ts). */
import type { PanelRoutes } from '../panel-routes.ts';
import * as services from './services.ts';

export const PAGE_MODULES: readonly ((routes: PanelRoutes) => void)[] = [services.register];
