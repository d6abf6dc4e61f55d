/* SPDX-License-Identifier: MIT */
/* Text from outside (keys a server listed, server error messages, paths)
 * made safe to show a person. */
#ifndef SLUICE_LIB_ESCAPE_H
#define SLUICE_LIB_ESCAPE_H

/* Non-zero when s holds a byte a terminal could act on or that is not
 * UTF-8: a C0 control, DEL, a C1 control (U+0080..U+009F, which some
 * terminals obey as escape sequences) or an invalid UTF-8 sequence. */
int sluice__text_needs_escape(const char *s);

/* sluice_escape() (include/sluice.h) is the escaping itself. */

#endif
