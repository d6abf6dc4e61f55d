-- SPDX-License-Identifier: MIT
-- Body of a PUT (object or part) for the nginx sink: read it all, keep none,
-- then answer with the ETag S3 would give, the hex MD5 of the body.  Clients
-- check that ETag (s3cmd and rclone retry or fail on a mismatch), so the
-- sink takes it from the Content-MD5 the client sent when there is one
-- (trusted, not checked: this is a sink) and computes it otherwise.  A
-- client that sent an x-amz-checksum-* value instead is trusted the same
-- way: the ETag is that value in hex (only MD5-checking clients read it),
-- so no client pays the sink for a hash it did not ask for.  The reply
-- echoes the x-amz-checksum-* header, as AWS's does.
-- A module (required once per worker: ffi.cdef may run only once), whose
-- handle() serves one request.
-- The answer goes out no sooner than ngx.var.sink_delay seconds plus the
-- body's size / ngx.var.sink_rate bytes per second after the request began.
local ffi = require "ffi"
ffi.cdef [[
typedef struct { unsigned int A, B, C, D, Nl, Nh, data[16]; unsigned int num; } MD5_CTX;
int MD5_Init(MD5_CTX *c);
int MD5_Update(MD5_CTX *c, const void *data, size_t len);
int MD5_Final(unsigned char *md, MD5_CTX *c);
]]
local crypto = ffi.load("libcrypto.so.3")

local function hex(raw)
  return (raw:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local CHECKSUMS = { "crc64nvme", "crc32c", "crc32", "sha256", "sha1" }

local M = {}

function M.handle()
  ngx.update_time()
  local t0 = ngx.now()
  local want = ngx.var.http_content_md5 and ngx.decode_base64(ngx.var.http_content_md5)
  local echo
  for _, alg in ipairs(CHECKSUMS) do
    local v = ngx.var["http_x_amz_checksum_" .. alg]
    if v and not echo then echo = { "x-amz-checksum-" .. alg, v } end
    if not want then want = v and ngx.decode_base64(v) end
  end
  local ctx
  if not want then
    ctx = ffi.new("MD5_CTX")
    crypto.MD5_Init(ctx)
  end
  local feed = ctx and function(s) crypto.MD5_Update(ctx, s, #s) end or function() end

  local len = tonumber(ngx.var.http_content_length or "")
  if len then
    -- streamed in 1 MiB pieces: memory stays flat whatever the size
    local sock = assert(ngx.req.socket())
    while len > 0 do
      local data, err = sock:receiveany(len < 1048576 and len or 1048576)
      if not data then ngx.log(ngx.ERR, "body: ", err); return ngx.exit(400) end
      feed(data)
      len = len - #data
    end
  else
    -- chunked body: nginx buffers it (memory, then a temp file)
    ngx.req.read_body()
    local data = ngx.req.get_body_data()
    if data then
      feed(data)
    elseif ngx.req.get_body_file() then
      local f = assert(io.open(ngx.req.get_body_file(), "rb"))
      for piece in function() return f:read(1048576) end do feed(piece) end
      f:close()
    end
  end
  if ctx then
    local md = ffi.new("unsigned char[16]")
    crypto.MD5_Final(md, ctx)
    want = ffi.string(md, 16)
  end
  local rate = tonumber(ngx.var.sink_rate or "0")
  local wait = tonumber(ngx.var.sink_delay or "0")
  if rate > 0 then wait = wait + tonumber(ngx.var.http_content_length or "0") / rate end
  if wait > 0 then
    ngx.update_time()
    wait = wait - (ngx.now() - t0)
    if wait > 0 then ngx.sleep(wait) end
  end
  ngx.header["ETag"] = '"' .. hex(want) .. '"'
  -- as AWS S3 does: the checksum sent, echoed (how a client tells that the
  -- store knows it)
  if echo then ngx.header[echo[1]] = echo[2] end
  ngx.exit(200)
end

return M
