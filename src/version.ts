/** dyups' version, as `-v`, `Server:` and error pages show it. */
export const VERSION = '0.1.0'
