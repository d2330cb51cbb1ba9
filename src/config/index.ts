/**
 * config/: nginx-syntax lexer and parser, `include`, the directive registry, value parsers.
 * Imports nothing of ours but the errors leaf.
 */
export type { Directive, Context } from './types.js'
export { Lexer, type Statement, type StatementEnd } from './lexer.js'
export { parseText, parseInto, type ParseOptions } from './parser.js'
export {
  loadConfig,
  resolveInclude,
  COMMAND_LINE,
  MAX_FILE_SIZE,
  MAX_INCLUDE_DEPTH,
  type LoadOptions,
  type LoadedConfig,
} from './load.js'
export { parseCluster, LEASE_SECONDS, type ClusterOptions } from './cluster.js'
export { globSync, matchComponent, hasGlobMagic } from './glob.js'
export {
  parseTime,
  parseSize,
  parseOffset,
  parseFlag,
  parseNumber,
  parsePositive,
  parseNonNegative,
  parseExpires,
  EXPIRES_OFF,
  EXPIRES_ACCESS,
  EXPIRES_MODIFIED,
  EXPIRES_DAILY,
  EXPIRES_EPOCH,
  EXPIRES_MAX,
  type ExpiresSetting,
} from './values.js'
export { Registry, configError, posOf, type DirectiveSpec, type CheckContext } from './registry.js'
export { DIRECTIVES, LIMIT_METHODS, OBSOLETE_HTTP2, defaultRegistry, locationInfo } from './directives.js'
export { UNSUPPORTED } from './unsupported.js'
export { checkTree, type CheckOptions } from './check.js'
export { parseAddress, isCidr, isInetAddr, isInet6Addr, type ParsedAddress, type ParseAddressOptions } from './addresses.js'
export { dumpConfig, formatPos } from './dump.js'
