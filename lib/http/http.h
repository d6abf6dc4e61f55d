/* SPDX-License-Identifier: MIT */
/*
 * The http service: read-only access to files served over plain HTTP(S),
 * on the request engine (lib/httpreq/) without signing, so a
 * public URL can be the source of sluice_write_from().  See http.c.
 */
#ifndef SLUICE_LIB_HTTP_HTTP_H
#define SLUICE_LIB_HTTP_HTTP_H

#include "service.h"

extern const sluice__service_vt sluice__http_service;

#endif
