/**
 * Writes the directive reference to stdout:
 *   node dist/src/config/directives-doc-main.js > docs/directives.md
 */
import { renderDirectivesDoc } from './directives-doc.js'

process.stdout.write(renderDirectivesDoc())
