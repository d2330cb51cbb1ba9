/**
 * The Lua side of the `ngx` API, run once per VM. It receives the bridge table (C functions written in JS, see
 * lua.ts) as its argument, builds the global `ngx` and the `ngx.dyups` module from it, takes away what would end
 * the worker or disable the instruction budget, and returns the runner: the function every request's coroutine
 * starts in, which calls a handler chunk with a fresh global environment (so one request's globals never leak into
 * another's, as in OpenResty).
 *
 * Handler chunks are compiled with `local _ENV = ...;` in front (on their first line, so line numbers hold).
 */
export const PRELUDE = `
local B = ...
local type, select, tostring, tonumber, error, setmetatable, rawget, rawset =
      type, select, tostring, tonumber, error, setmetatable, rawget, rawset
local concat, unpack, format, char, mtype, floor = table.concat, table.unpack, string.format, string.char, math.type, math.floor
local getinfo = debug.getinfo

-- Not offered: these would end or block the worker, run commands, or touch the VM's private file system
-- (it is not the host's); the hook removal would disable the instruction budget.
os.exit, os.execute, os.remove, os.rename, os.tmpname = nil, nil, nil, nil, nil
io, package.loaded.io = nil, nil
debug.sethook = nil
package.loadlib, package.cpath = nil, ""

local ngx = {}
local null = setmetatable({}, { __tostring = function() return "null" end })
ngx.null = null

ngx.OK, ngx.ERROR, ngx.AGAIN, ngx.DONE, ngx.DECLINED = 0, -1, -2, -4, -5
ngx.STDERR, ngx.EMERG, ngx.ALERT, ngx.CRIT, ngx.ERR = 0, 1, 2, 3, 4
ngx.WARN, ngx.NOTICE, ngx.INFO, ngx.DEBUG = 5, 6, 7, 8

local codes = {
  HTTP_CONTINUE = 100, HTTP_SWITCHING_PROTOCOLS = 101, HTTP_OK = 200, HTTP_CREATED = 201, HTTP_ACCEPTED = 202,
  HTTP_NO_CONTENT = 204, HTTP_PARTIAL_CONTENT = 206, HTTP_SPECIAL_RESPONSE = 300, HTTP_MOVED_PERMANENTLY = 301,
  HTTP_MOVED_TEMPORARILY = 302, HTTP_SEE_OTHER = 303, HTTP_NOT_MODIFIED = 304, HTTP_TEMPORARY_REDIRECT = 307,
  HTTP_PERMANENT_REDIRECT = 308, HTTP_BAD_REQUEST = 400, HTTP_UNAUTHORIZED = 401, HTTP_PAYMENT_REQUIRED = 402,
  HTTP_FORBIDDEN = 403, HTTP_NOT_FOUND = 404, HTTP_NOT_ALLOWED = 405, HTTP_NOT_ACCEPTABLE = 406,
  HTTP_REQUEST_TIMEOUT = 408, HTTP_CONFLICT = 409, HTTP_GONE = 410, HTTP_UPGRADE_REQUIRED = 426,
  HTTP_TOO_MANY_REQUESTS = 429, HTTP_CLOSE = 444, HTTP_ILLEGAL = 451, HTTP_INTERNAL_SERVER_ERROR = 500,
  HTTP_METHOD_NOT_IMPLEMENTED = 501, HTTP_BAD_GATEWAY = 502, HTTP_SERVICE_UNAVAILABLE = 503,
  HTTP_GATEWAY_TIMEOUT = 504, HTTP_VERSION_NOT_SUPPORTED = 505, HTTP_INSUFFICIENT_STORAGE = 507,
  HTTP_GET = 2, HTTP_HEAD = 4, HTTP_POST = 8, HTTP_PUT = 16, HTTP_DELETE = 32, HTTP_MKCOL = 64, HTTP_COPY = 128,
  HTTP_MOVE = 256, HTTP_OPTIONS = 512, HTTP_PROPFIND = 1024, HTTP_PROPPATCH = 2048, HTTP_LOCK = 4096,
  HTTP_UNLOCK = 8192, HTTP_PATCH = 16384, HTTP_TRACE = 32768,
}
for k, v in pairs(codes) do ngx[k] = v end

-- ngx.print's rules: numbers as %.14g (integers whole), nil/true/false/ngx.null by name, array tables flattened.
local function append(buf, v, fname)
  local t = type(v)
  if t == "string" then buf[#buf + 1] = v
  elseif t == "number" then buf[#buf + 1] = mtype(v) == "integer" and format("%d", v) or format("%.14g", v)
  elseif t == "nil" then buf[#buf + 1] = "nil"
  elseif t == "boolean" then buf[#buf + 1] = v and "true" or "false"
  elseif v == null then buf[#buf + 1] = "null"
  elseif t == "table" then
    for i = 1, #v do append(buf, v[i], fname) end
  else
    error("bad argument to '" .. fname .. "' (string, number, boolean, nil, ngx.null or array table expected, got " .. t .. ")", 4)
  end
end

local function joined(fname, ...)
  local buf, n, args = {}, select("#", ...), { ... }
  for i = 1, n do append(buf, args[i], fname) end
  return concat(buf)
end

function ngx.print(...) B.out(joined("print", ...)) return 1 end
function ngx.say(...) B.out(joined("say", ...) .. "\\n") return 1 end
function ngx.flush() return 1 end
ngx.eof = B.eof
ngx.exit = B.exit
function ngx.redirect(uri, status)
  B.setheader("Location", tostring(uri))
  return B.exit(status or 302)
end

local function where(level)
  local info = getinfo(level, "Sl")
  if info == nil then return "" end
  return info.short_src .. ":" .. (info.currentline or 0) .. ": "
end

function ngx.log(level, ...)
  if type(level) ~= "number" then
    error("bad argument #1 to 'log' (number expected, got " .. type(level) .. ")", 2)
  end
  return B.log(level, where(3) .. joined("log", ...))
end

print = function(...) return B.log(6, where(3) .. joined("print", ...)) end

ngx.var = setmetatable({}, {
  __index = function(_, k) return B.var(k) end,
  __newindex = function(_, k) error('variable "' .. tostring(k) .. '" not changeable', 2) end,
})

ngx.header = setmetatable({}, {
  __index = function(_, k) return B.getheader(tostring(k)) end,
  __newindex = function(_, k, v)
    if type(v) == "table" then
      local vals = {}
      for i = 1, #v do vals[i] = tostring(v[i]) end
      B.setheader(tostring(k), unpack(vals))
    elseif v == nil then B.setheader(tostring(k))
    else B.setheader(tostring(k), tostring(v)) end
  end,
})

local function collect(flat, lower)
  local t = {}
  for i = 1, #flat, 2 do
    local k, v = flat[i], flat[i + 1]
    if lower then k = k:lower() end
    local old = rawget(t, k)
    if old == nil then t[k] = v
    elseif type(old) == "table" then old[#old + 1] = v
    else t[k] = { old, v } end
  end
  return t
end

-- ngx.req.get_headers() answers "Content_Type" and "content-type" alike.
local headers_mt = {
  __index = function(t, k)
    if type(k) ~= "string" then return nil end
    local n = (k:lower():gsub("_", "-"))
    if n ~= k then return rawget(t, n) end
  end,
}

local req = {}
req.get_method = B.method
req.http_version = B.httpver
req.start_time = B.start
function req.read_body() end
function req.discard_body() end
function req.get_body_data() return B.body() end
function req.get_body_file() return nil end
function req.get_uri_args(max) return collect(B.args(max or 100), false) end
function req.get_headers(max, raw)
  local t = collect(B.headers(max or 100), not raw)
  if not raw then setmetatable(t, headers_mt) end
  return t
end
ngx.req = req

ngx.now = B.now
function ngx.time() return floor(B.now()) end
function ngx.update_time() end
ngx.sleep = B.sleep
ngx.worker = { pid = B.pid }

function ngx.unescape_uri(s)
  s = tostring(s):gsub("%+", " ")
  return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end
function ngx.escape_uri(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return format("%%%02X", c:byte()) end))
end

-- ngx.status and ngx.ctx belong to the request running now.
local ctxs = setmetatable({}, { __mode = "k" })
setmetatable(ngx, {
  __index = function(_, k)
    if k == "status" then return B.status() end
    if k == "ctx" then
      local key = B.thread()
      local c = ctxs[key]
      if c == nil then c = {}; ctxs[key] = c end
      return c
    end
  end,
  __newindex = function(t, k, v)
    if k == "status" then B.setstatus(v)
    elseif k == "ctx" then ctxs[B.thread()] = v
    else rawset(t, k, v) end
  end,
})

_G.ngx = ngx
package.loaded.ngx = ngx
local dyups = { update = B.update, delete = B.delete, get = B.get }
package.preload["ngx.dyups"] = function() return dyups end

local G = _G
local env_mt = { __index = G }
return function(chunk)
  chunk(setmetatable({}, env_mt))
end
`
