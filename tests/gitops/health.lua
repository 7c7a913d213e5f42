-- Runs an Argo CD health check script against an object, the way Argo CD does, and prints
-- "STATUS<TAB>MESSAGE".
--
--   lua5.4 tests/gitops/health.lua SCRIPT.lua OBJECT.json
--
-- Like Argo CD (gopher-lua, Lua 5.1 semantics, util/lua/lua.go): the object is the global
-- `obj` (JSON null becomes nil), only the base and table libraries are there (no string, math,
-- io, os), the script's return value must be a table whose status is a valid health status.
-- Works under lua5.1 … lua5.4; no C modules (a small JSON decoder is included).

local sub, byte, find, char, format = string.sub, string.byte, string.find, string.char, string.format
local floor = math.floor

-- JSON --------------------------------------------------------------------------------------
local function decode(text)
  local pos = 1

  local function fail(what)
    error(format("JSON: %s at byte %d", what, pos), 0)
  end

  local function skip()
    local _, e = find(text, "^[ \n\r\t]*", pos)
    pos = e + 1
  end

  local function utf8char(cp)
    if cp < 0x80 then
      return char(cp)
    elseif cp < 0x800 then
      return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40)
    elseif cp < 0x10000 then
      return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
    end
    return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
      0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end

  local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

  local function str()
    pos = pos + 1 -- opening quote
    local parts = {}
    while true do
      local s, e = find(text, '^[^"\\]+', pos)
      if s then
        parts[#parts + 1] = sub(text, s, e)
        pos = e + 1
      end
      local c = sub(text, pos, pos)
      if c == '"' then
        pos = pos + 1
        return table.concat(parts)
      elseif c == "\\" then
        local esc = sub(text, pos + 1, pos + 1)
        if esc == "u" then
          local hex = sub(text, pos + 2, pos + 5)
          local cp = tonumber(hex, 16) or fail("bad \\u escape")
          pos = pos + 6
          if cp >= 0xD800 and cp <= 0xDBFF and sub(text, pos, pos + 1) == "\\u" then
            local lo = tonumber(sub(text, pos + 2, pos + 5), 16) or fail("bad surrogate")
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            pos = pos + 6
          end
          parts[#parts + 1] = utf8char(cp)
        else
          parts[#parts + 1] = escapes[esc] or fail("bad escape")
          pos = pos + 2
        end
      else
        fail("unterminated string")
      end
    end
  end

  local value

  local function object()
    pos = pos + 1
    local t = {}
    skip()
    if sub(text, pos, pos) == "}" then
      pos = pos + 1
      return t
    end
    while true do
      skip()
      if sub(text, pos, pos) ~= '"' then fail("expected a key") end
      local k = str()
      skip()
      if sub(text, pos, pos) ~= ":" then fail("expected ':'") end
      pos = pos + 1
      t[k] = value() -- null: the key stays absent, as in Argo CD
      skip()
      local c = sub(text, pos, pos)
      pos = pos + 1
      if c == "}" then return t end
      if c ~= "," then fail("expected ',' or '}'") end
    end
  end

  local function array()
    pos = pos + 1
    local t = {}
    skip()
    if sub(text, pos, pos) == "]" then
      pos = pos + 1
      return t
    end
    while true do
      local v = value()
      if v ~= nil then t[#t + 1] = v end
      skip()
      local c = sub(text, pos, pos)
      pos = pos + 1
      if c == "]" then return t end
      if c ~= "," then fail("expected ',' or ']'") end
    end
  end

  value = function()
    skip()
    local c = sub(text, pos, pos)
    if c == "{" then return object()
    elseif c == "[" then return array()
    elseif c == '"' then return str()
    elseif sub(text, pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif sub(text, pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif sub(text, pos, pos + 3) == "null" then pos = pos + 4; return nil
    end
    local s, e = find(text, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not s then fail("unexpected character '" .. c .. "'") end
    pos = e + 1
    return tonumber(sub(text, s, e)) or fail("bad number")
  end

  local v = value()
  skip()
  if pos <= #text then fail("trailing data") end
  return v
end

-- main --------------------------------------------------------------------------------------
local script_path, object_path = arg[1], arg[2]
if not script_path or not object_path then
  io.stderr:write("usage: lua health.lua SCRIPT.lua OBJECT.json\n")
  os.exit(2)
end

local f = assert(io.open(object_path, "rb"))
local ok, obj = pcall(decode, f:read("*a"))
f:close()
if not ok then
  io.stderr:write(object_path .. ": " .. obj .. "\n")
  os.exit(2)
end

-- The sandbox: what Argo CD opens for user-provided health scripts (base, table, package).
local env = {
  obj = obj,
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
  rawequal = rawequal, rawget = rawget, rawset = rawset, select = select, tonumber = tonumber,
  tostring = tostring, type = type, unpack = unpack or table.unpack, xpcall = xpcall,
  getmetatable = getmetatable, setmetatable = setmetatable,
  table = table, _VERSION = "Lua 5.1",
}
env._G = env

local chunk, err
if setfenv then -- Lua 5.1
  chunk, err = loadfile(script_path)
  if chunk then setfenv(chunk, env) end
else
  chunk, err = loadfile(script_path, "t", env)
end
if not chunk then
  io.stderr:write(err .. "\n")
  os.exit(2)
end

-- No string library in Argo CD: string methods ("x"):upper() must fail there too.
local string_mt = getmetatable("")
local string_index = string_mt and string_mt.__index
if string_mt then string_mt.__index = nil end
local okrun, hs = pcall(chunk)
if string_mt then string_mt.__index = string_index end
if not okrun then
  io.stderr:write(script_path .. ": " .. tostring(hs) .. "\n")
  os.exit(2)
end

local valid = { Healthy = true, Progressing = true, Degraded = true, Suspended = true, Missing = true, Unknown = true }
if type(hs) ~= "table" then
  io.stderr:write(script_path .. ": returned " .. type(hs) .. ", Argo CD expects a table\n")
  os.exit(2)
end
if not valid[hs.status] then
  io.stderr:write(script_path .. ": invalid health status " .. tostring(hs.status) .. "\n")
  os.exit(2)
end
if hs.message ~= nil and type(hs.message) ~= "string" then
  io.stderr:write(script_path .. ": message is a " .. type(hs.message) .. ", not a string\n")
  os.exit(2)
end
print(hs.status .. "\t" .. (hs.message or ""))
