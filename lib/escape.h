/* SPDX-License-Identifier: MIT */
/* Text from outside (keys a server listed, server error messages, paths)
 * made safe to show a person. */
#ifndef SLUICE_LIB_ESCAPE_H
#define SLUICE_LIB_ESCAPE_H

/* Non-zero when s holds a byte a terminal could act on or that is not
 * UTF-8: a C0 control, DEL, a C1 control (U+0080..U+009F, which some
 * terminals obey as escape sequences) or an invalid UTF-8 sequence. */
int sluice__text_needs_escape(const char *s);

/* A copy of s (malloc'd; NULL when out of memory) with each such byte
 * written as a C escape: \a \b \t \n \v \f \r by name, any other as three
 * octal digits (ESC is \033), the form `ls -b` uses.  A backslash stays
 * as it is, so escaping twice changes nothing: a message that quotes
 * another message is not escaped again. */
char *sluice__text_escape(const char *s);

#endif
