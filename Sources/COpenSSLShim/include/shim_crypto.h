#ifndef PORTCULLIS_SHIM_CRYPTO_H
#define PORTCULLIS_SHIM_CRYPTO_H
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED 1
#endif
#include <openssl/crypto.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pkcs7.h>
#include <openssl/pkcs12.h>
#include <openssl/evp.h>
#include <stddef.h>

/* BIO_get_mem_data is a macro. */
long portcullis_BIO_get_mem_data(BIO *bio, char **data);
/* OPENSSL_free is a macro that passes __FILE__/__LINE__. */
void portcullis_OPENSSL_free(void *ptr);

/* STACK_OF(X509) */
STACK_OF(X509) *portcullis_sk_X509_new_null(void);
int portcullis_sk_X509_num(const STACK_OF(X509) *sk);
X509 *portcullis_sk_X509_value(const STACK_OF(X509) *sk, int i);
int portcullis_sk_X509_push(STACK_OF(X509) *sk, X509 *x);
void portcullis_sk_X509_free(STACK_OF(X509) *sk);
void portcullis_sk_X509_pop_free(STACK_OF(X509) *sk);

/* STACK_OF(X509_REVOKED), as returned by X509_CRL_get_REVOKED. */
int portcullis_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *sk);
X509_REVOKED *portcullis_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *sk, int i);

/* PKCS7_type_is_* are macros that read the struct's type field. */
int portcullis_PKCS7_type_is_signed(const PKCS7 *p7);
int portcullis_PKCS7_type_is_enveloped(const PKCS7 *p7);
int portcullis_PKCS7_type_is_signedAndEnveloped(const PKCS7 *p7);
int portcullis_PKCS7_type_is_data(const PKCS7 *p7);

#endif
