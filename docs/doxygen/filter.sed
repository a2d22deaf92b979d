# SPDX-License-Identifier: MIT
#
# Doxygen INPUT_FILTER for include/rnn.h (docs/doxygen/Doxyfile.in): the
# header's plain C comments are its documentation, so this turns them into
# Doxygen comments on the fly, line for line (line numbers are kept):
#   - the file's first line (its SPDX tag)      -> /** @file rnn.h
#   - a comment opening a line                  /*  -> /**  (documents the
#     declaration below it)
#   - a comment after code on the same line     /*  -> /**< (documents that
#     field, enum value or parameter)
#   - section banners (/* ===...) and comments on preprocessor lines other
#     than #define stay plain comments.
1s|^/\* .*$|/** @file rnn.h|
/^[[:space:]]*\/\* =+/b
/^[[:space:]]*#/{
/^[[:space:]]*#[[:space:]]*define[[:space:]]/!b
}
s|^([[:space:]]*)/\* |\1/** |
s|^([[:space:]]*[^/[:space:]][^/]*[^/[:space:]])([[:space:]]*)/\* |\1\2/**< |
