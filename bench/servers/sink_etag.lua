-- SPDX-License-Identifier: MIT
-- Header filter of the nginx sink's GET and HEAD: an object that has a
-- sidecar DATA_DIR/.etag/<bucket>/<key> is served with the ETag a store
-- without CRCs (Swift, MinIO, Ceph) would give it, instead of nginx's own
-- "<mtime hex>-<size hex>", so that a client's ETag check runs.  The
-- sidecar is one line: the ETag as served, with its quotes ("<md5 hex>" for
-- a single-part object, "<hex>-N" for a multipart one), then for a
-- multipart object its part size in bytes, which the reply carries as
-- x-amz-meta-sluice-part-size (what sluice records when it uploads).
-- If-Match (sluice pins its GETs with it) is answered here, in the access
-- phase: nginx's not_modified filter would compare it with nginx's own
-- ETag, as it runs before this header filter, so a matching If-Match is
-- taken off the request and any other gets a 412.  If-Range is compared
-- later, by the range filter, with the ETag set here.
-- Sidecars are read once per worker and cached, absent ones too: the bench
-- writes them before the sink starts.
local M = {}
local cache = {}

local function lookup(root, bucket, key)
  local k = bucket .. "/" .. key
  local e = cache[k]
  if e ~= nil then return e end
  e = false
  -- keys come from the bench's own data, but never read outside .etag/
  if not k:find("..", 1, true) then
    local f = io.open(root .. "/.etag/" .. k, "r")
    if f then
      local line = f:read("*l") or ""
      f:close()
      local etag, part = line:match('^("[0-9a-f]+%-?%d*")%s*(%d*)$')
      if etag then
        e = { etag = etag, part = part ~= "" and part or nil }
      else
        ngx.log(ngx.ERR, "sink_etag: bad sidecar for ", k)
      end
    end
  end
  cache[k] = e
  return e
end

-- The sidecar of this GET or HEAD, or nil.
local function sidecar()
  local m = ngx.req.get_method()
  if m ~= "GET" and m ~= "HEAD" then return nil end
  return lookup(ngx.var.document_root, ngx.var.xb, ngx.var.xk) or nil
end

function M.access()
  local e = sidecar()
  local want = e and ngx.var.http_if_match
  if not want then return end
  if want ~= e.etag and want ~= "*" then return ngx.exit(412) end
  ngx.req.clear_header("If-Match")
end

function M.filter()
  local e = sidecar()
  if not e then return end
  ngx.header["ETag"] = e.etag
  if e.part then ngx.header["x-amz-meta-sluice-part-size"] = e.part end
end

return M
