#ifndef PORTCULLIS_SHIM_X509_H
#define PORTCULLIS_SHIM_X509_H
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED 1
#endif
/*
 * X.509 macros Swift cannot import: the STACK_OF(X509_EXTENSION) and STACK_OF(GENERAL_NAME) accessors,
 * X509V3_set_ctx_nodb, and the print flags that are shift expressions.
 */
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* STACK_OF(X509_EXTENSION) */
STACK_OF(X509_EXTENSION) *portcullis_sk_X509_EXTENSION_new_null(void);
int portcullis_sk_X509_EXTENSION_num(const STACK_OF(X509_EXTENSION) *sk);
X509_EXTENSION *portcullis_sk_X509_EXTENSION_value(const STACK_OF(X509_EXTENSION) *sk, int i);
int portcullis_sk_X509_EXTENSION_push(STACK_OF(X509_EXTENSION) *sk, X509_EXTENSION *ext);
/* Frees the stack only; the extensions stay owned by whoever pushed them. */
void portcullis_sk_X509_EXTENSION_free(STACK_OF(X509_EXTENSION) *sk);
/* Frees the stack and every extension in it. */
void portcullis_sk_X509_EXTENSION_pop_free(STACK_OF(X509_EXTENSION) *sk);

/* STACK_OF(GENERAL_NAME), i.e. GENERAL_NAMES */
int portcullis_sk_GENERAL_NAME_num(const GENERAL_NAMES *sk);
GENERAL_NAME *portcullis_sk_GENERAL_NAME_value(const GENERAL_NAMES *sk, int i);

/* X509V3_set_ctx_nodb: no configuration database, so r2i extensions that need one fail cleanly. */
void portcullis_X509V3_set_ctx_nodb(X509V3_CTX *ctx);

/* X509V3_EXT_DUMP_UNKNOWN is (3L << 16). */
static const unsigned long portcullis_X509V3_EXT_DUMP_UNKNOWN = X509V3_EXT_DUMP_UNKNOWN;

#endif
