#ifndef PORTCULLIS_COPENSSLSHIM_H
#define PORTCULLIS_COPENSSLSHIM_H
/*
 * What Swift cannot import from OpenSSL 3: function-like macros, stack macros and SSL_OP_BIT constants.
 * Nothing else belongs here. One header per OpenSSL area, each owned by the module that uses it.
 */
#include "shim_crypto.h"
#include "shim_ssl.h"
#include "shim_x509.h"
#include "shim_connection.h"
#endif
