-- Fluent Bit Lua filter: second line of defence against card numbers (PANs) in logs.
--
-- The service never logs a PAN (it logs the HMAC of it); this filter catches what a bug, a
-- library or another workload might print anyway, before the record leaves the node.
-- Every string value in the record (nested maps and arrays included, keys too) is
-- scanned for runs of 13-19 digits, optionally grouped by single spaces or dashes
-- ("4111 1111 1111 1111", "4111-1111-1111-1111"), that pass the Luhn check; each is
-- replaced by "[PAN REDACTED]". A field whose key looks like a PAN is dropped. Numbers
-- of 13-19 digits are treated the same (a PAN in a JSON number). A record that was changed
-- gets pan_redacted=true, so the redactions can be counted and traced to their source.
--
-- Plain Lua 5.1 (Fluent Bit embeds LuaJIT): no external modules.

local REPLACEMENT = "[PAN REDACTED]"
local MIN_DIGITS, MAX_DIGITS = 13, 19

local function luhn(digits)
  local sum, double = 0, false
  for i = #digits, 1, -1 do
    local d = digits:byte(i) - 48
    if double then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    sum = sum + d
    double = not double
  end
  return sum % 10 == 0
end

local function is_digit(b)
  return b ~= nil and b >= 48 and b <= 57
end

-- Returns s with every PAN-like run replaced, and whether anything was replaced.
local function redact_string(s)
  local n = #s
  local out, last, changed = {}, 1, false
  local i = 1
  while i <= n do
    if is_digit(s:byte(i)) and not is_digit(s:byte(i - 1)) then
      -- Collect groups of digits joined by single separators: {start, stop, digits}.
      local groups = {}
      local j = i
      while true do
        local k = j
        while is_digit(s:byte(k)) do k = k + 1 end
        groups[#groups + 1] = { j, k - 1, s:sub(j, k - 1) }
        local sep = s:byte(k)
        if (sep == 32 or sep == 45) and is_digit(s:byte(k + 1)) then
          j = k + 1
        else
          break
        end
      end
      -- Consecutive groups whose digits add up to 13-19 and pass Luhn are a PAN. Groups
      -- let two PANs separated by a space be found separately; a single group of more
      -- than 19 digits is some other number (an id) and is left alone.
      local a = 1
      while a <= #groups do
        local digits, matched = "", nil
        for b = a, #groups do
          digits = digits .. groups[b][3]
          if #digits > MAX_DIGITS then break end
          if #digits >= MIN_DIGITS and luhn(digits) then matched = b end
        end
        if matched then
          out[#out + 1] = s:sub(last, groups[a][1] - 1)
          out[#out + 1] = REPLACEMENT
          last = groups[matched][2] + 1
          changed = true
          a = matched + 1
        else
          a = a + 1
        end
      end
      i = groups[#groups][2] + 1
    else
      i = i + 1
    end
  end
  if not changed then return s, false end
  out[#out + 1] = s:sub(last)
  return table.concat(out), true
end

local function redact_value(v)
  local t = type(v)
  if t == "string" then
    return redact_string(v)
  elseif t == "number" then
    if v == math.floor(v) and v >= 1e12 and v < 1e19 then
      local s = string.format("%.0f", v)
      local r, changed = redact_string(s)
      if changed then return r, true end
    end
    return v, false
  elseif t == "table" then
    local changed = false
    local drop = {}
    for k, item in pairs(v) do
      if type(k) == "string" and select(2, redact_string(k)) then
        drop[#drop + 1] = k
      else
        local r, c = redact_value(item)
        if c then
          v[k] = r
          changed = true
        end
      end
    end
    for _, k in ipairs(drop) do
      v[k] = nil
      changed = true
    end
    return v, changed
  end
  return v, false
end

-- Fluent Bit's entry point: 0 = keep the record as it was, 2 = record changed, keep its
-- timestamp.
function redact_pan(tag, timestamp, record)
  local r, changed = redact_value(record)
  if not changed then
    return 0, timestamp, record
  end
  r["pan_redacted"] = true
  return 2, timestamp, r
end

-- For tests: the string scanner on its own.
redact_pan_string = redact_string
