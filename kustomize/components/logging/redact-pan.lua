-- Fluent Bit Lua filter: second line of defence against card numbers (PANs) in logs.
--
-- The service never logs a PAN (it logs the HMAC of it); this filter catches what a bug, a
-- library or another workload might print anyway, before the record leaves the node.
-- Every string value in the record (nested maps and arrays included, keys too) is
-- scanned for standalone runs of 13-19 digits, optionally grouped by single spaces or
-- dashes ("4111 1111 1111 1111", "4111-1111-1111-1111"), that pass the Luhn check; each
-- is replaced by "[PAN REDACTED]". A field whose key looks like a PAN is dropped. Integer
-- numbers of 13-19 digits are treated the same (a PAN in a JSON number), except the ones
-- CloudWatch's Embedded Metric Format reads (below). A record that was changed gets
-- pan_redacted=true, so the redactions can be counted and traced to their source.
--
-- What is not a PAN, because random identifiers and clocks pass Luhn one time in ten:
--   * digits glued to a letter, an underscore or a decimal point ("0a4111...", "x_4111",
--     "3.4111..."): they belong to a hex string, a hash, an identifier or a decimal;
--   * anything inside a UUID (8-4-4-4-12 hex digits: the service's UUIDv7 request ids);
--   * a run starting with 1 that does not have 15 digits: epoch timestamps in ms, us and
--     ns (13, 16 and 19 digits, all starting with 1 from 2001 to 2033). No card scheme
--     issues such numbers; UATP's 15-digit airline cards (the only PANs starting with 1)
--     stay covered.
-- EMF: the root "_aws" block's numbers (Timestamp) and the values of the metrics it
-- declares are numbers CloudWatch needs as numbers; turning one into a string loses the
-- metric, so they are never changed. Strings, including those inside "_aws", are scanned.
--
-- Plain Lua 5.1 (Fluent Bit embeds LuaJIT): no external modules.

local REPLACEMENT = "[PAN REDACTED]"
local MIN_DIGITS, MAX_DIGITS = 13, 19
local UUID = "%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x"

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

-- [0-9A-Za-z_]: a digit run touching one of these is part of a longer token.
local function is_word(b)
  return b ~= nil and (is_digit(b) or (b >= 65 and b <= 90) or (b >= 97 and b <= 122) or b == 95)
end

-- Could these digits be a PAN: 13-19 of them, Luhn-valid, and not an epoch timestamp.
local function is_pan(digits)
  local n = #digits
  if n < MIN_DIGITS or n > MAX_DIGITS or not luhn(digits) then return false end
  return digits:byte(1) ~= 49 or n == 15
end

-- The [start, stop] ranges of the UUIDs in s, in order.
local function uuid_ranges(s)
  local ranges = {}
  if not s:find("-", 1, true) then return ranges end
  local init = 1
  while true do
    local a, b = s:find(UUID, init)
    if not a then break end
    ranges[#ranges + 1] = { a, b }
    init = b + 1
  end
  return ranges
end

-- Finds the PANs in one run of digit groups ({start, stop, digits} each) of s and
-- appends the text before each and its replacement to out. last is the first byte of s
-- not yet copied to out; returns the new one.
local function redact_run(s, groups, out, last)
  -- A first or last group glued to a word or a decimal point is part of that token.
  local first, final = 1, #groups
  local before = s:byte(groups[1][1] - 1)
  if is_word(before) or (before == 46 and is_digit(s:byte(groups[1][1] - 2))) then
    first = 2
  end
  local after = s:byte(groups[final][2] + 1)
  if is_word(after) or (after == 46 and is_digit(s:byte(groups[final][2] + 2))) then
    final = final - 1
  end
  -- Consecutive groups whose digits add up to 13-19 and pass the checks are a PAN.
  -- Groups let two PANs separated by a space be found separately; a single group of more
  -- than 19 digits is some other number (an id) and is left alone.
  local a = first
  while a <= final do
    local digits, matched = "", nil
    for b = a, final do
      digits = digits .. groups[b][3]
      if #digits > MAX_DIGITS then break end
      if is_pan(digits) then matched = b end
    end
    if matched then
      out[#out + 1] = s:sub(last, groups[a][1] - 1)
      out[#out + 1] = REPLACEMENT
      last = groups[matched][2] + 1
      a = matched + 1
    else
      a = a + 1
    end
  end
  return last
end

-- Returns s with every PAN-like run replaced, and whether anything was replaced.
local function redact_string(s)
  local n = #s
  local out, last = {}, 1
  -- UUIDs are looked for only once a run is long enough to be a PAN: most strings have
  -- none, and the pattern search costs more than the rest of the scan.
  local uuids, u = nil, 1
  local i = 1
  while i <= n do
    while uuids and uuids[u] and uuids[u][2] < i do u = u + 1 end
    local next_uuid = uuids and uuids[u] and uuids[u][1] or n + 1
    if i >= next_uuid then
      i = uuids[u][2] + 1
    elseif is_digit(s:byte(i)) then
      -- Collect groups of digits joined by single separators, stopping before a UUID:
      -- {start, stop, digits}.
      local groups, total = {}, 0
      local j = i
      while true do
        local k = j
        while is_digit(s:byte(k)) do k = k + 1 end
        groups[#groups + 1] = { j, k - 1, s:sub(j, k - 1) }
        total = total + k - j
        local sep = s:byte(k)
        if (sep == 32 or sep == 45) and is_digit(s:byte(k + 1)) and k + 1 < next_uuid then
          j = k + 1
        else
          break
        end
      end
      if total >= MIN_DIGITS and not uuids then
        -- Scan this run again, now knowing where the UUIDs are (i stays).
        uuids = uuid_ranges(s)
      else
        if total >= MIN_DIGITS then last = redact_run(s, groups, out, last) end
        i = groups[#groups][2] + 1
      end
    else
      i = i + 1
    end
  end
  if last == 1 then return s, false end
  out[#out + 1] = s:sub(last)
  return table.concat(out), true
end

local redact_fields

-- Returns v with every PAN-like string, key and (unless spare_numbers) number redacted,
-- and whether anything was. Tables are changed in place.
local function redact_value(v, spare_numbers)
  local t = type(v)
  if t == "string" then
    return redact_string(v)
  elseif t == "number" then
    if not spare_numbers and v == math.floor(v) and v >= 1e12 and v < 1e19 then
      local r, changed = redact_string(string.format("%.0f", v))
      if changed then return r, true end
    end
    return v, false
  elseif t == "table" then
    return v, redact_fields(v, function() return spare_numbers end)
  end
  return v, false
end

-- Redacts the fields of t in place, sparing the numbers under each key k for which
-- spare(k) is true; a key that looks like a PAN drops its field. Returns whether anything
-- changed.
redact_fields = function(t, spare)
  local changed, drop = false, {}
  for k, item in pairs(t) do
    if type(k) == "string" and select(2, redact_string(k)) then
      drop[#drop + 1] = k
    else
      local r, c = redact_value(item, spare(k))
      if c then
        t[k] = r
        changed = true
      end
    end
  end
  for _, k in ipairs(drop) do
    t[k] = nil
    changed = true
  end
  return changed
end

-- The root members of an EMF record whose numbers CloudWatch reads: "_aws" itself
-- (Timestamp) and each metric its CloudWatchMetrics directives declare. Empty for other
-- records.
local function emf_members(record)
  local keep = {}
  local aws = record["_aws"]
  if type(aws) ~= "table" then return keep end
  keep["_aws"] = true
  if type(aws.CloudWatchMetrics) == "table" then
    for _, directive in ipairs(aws.CloudWatchMetrics) do
      if type(directive) == "table" and type(directive.Metrics) == "table" then
        for _, m in ipairs(directive.Metrics) do
          if type(m) == "table" and type(m.Name) == "string" then keep[m.Name] = true end
        end
      end
    end
  end
  return keep
end

-- Fluent Bit's entry point: 0 = keep the record as it was, 2 = record changed, keep its
-- timestamp.
function redact_pan(tag, timestamp, record)
  local emf = emf_members(record)
  if not redact_fields(record, function(k) return emf[k] == true end) then
    return 0, timestamp, record
  end
  record["pan_redacted"] = true
  return 2, timestamp, record
end

-- For tests: the string scanner on its own.
redact_pan_string = redact_string
