/** dyups/: the interface (REST handler) and the operations the scripting APIs share. */
export { handleInterface, type InterfaceRequest, type InterfaceDeps } from './rest.js'
export { update, remove, reply, LOCKED_BODY } from './api.js'
export type { TableView, ChangeSink, Outcome, Reply } from './types.js'
