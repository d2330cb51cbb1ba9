/**
 * upstream/: the model (groups, servers, policies), building groups from `upstream {}` blocks and from dyups
 * command bodies, and rendering them (`/list`, `/detail`, `/upstream/NAME`, `upstream.conf`).
 *
 * Names are byte strings carried as latin1 JS strings (one char per byte) everywhere in dyups.
 */
export type {
  Server,
  UpstreamGroup,
  Policy,
  PolicyName,
  Keepalive,
  CheckSpec,
  CheckType,
  CheckStatusClass,
} from './types.js'
export { buildGroup, parseCommands, defaultResolver, COMMAND_BODY, type BuildOptions, type Resolver } from './build.js'
export { renderList, renderDetail, renderServers, renderUpstreamBlock, quoteArg, checkLines } from './render.js'
export { defaultExpectAlive, HTTP_DEFAULT_SEND } from './check.js'
export { assignIds } from './ids.js'
export { readLineMarkers, withMarkers, serverMarker, type LineMarker } from './markers.js'
export { groupKey } from './names.js'
export { packGroup, packedDrains, unpackGroup } from './pack.js'
export { inet6Addr, inet6Ntop, parseAddress } from './address.js'
