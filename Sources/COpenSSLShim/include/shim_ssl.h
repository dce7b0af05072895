#ifndef PORTCULLIS_SHIM_SSL_H
#define PORTCULLIS_SHIM_SSL_H
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED 1
#endif
#include <openssl/ssl.h>

#endif
