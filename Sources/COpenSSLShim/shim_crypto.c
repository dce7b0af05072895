#include "shim_crypto.h"

long portcullis_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
void portcullis_OPENSSL_free(void *ptr) { OPENSSL_free(ptr); }

STACK_OF(X509) *portcullis_sk_X509_new_null(void) { return sk_X509_new_null(); }
int portcullis_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
X509 *portcullis_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
int portcullis_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
void portcullis_sk_X509_free(STACK_OF(X509) *sk) { sk_X509_free(sk); }
void portcullis_sk_X509_pop_free(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }

int portcullis_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *sk) { return sk_X509_REVOKED_num(sk); }
X509_REVOKED *portcullis_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *sk, int i) {
    return sk_X509_REVOKED_value(sk, i);
}

int portcullis_PKCS7_type_is_signed(const PKCS7 *p7) { return PKCS7_type_is_signed(p7); }
int portcullis_PKCS7_type_is_enveloped(const PKCS7 *p7) { return PKCS7_type_is_enveloped(p7); }
int portcullis_PKCS7_type_is_signedAndEnveloped(const PKCS7 *p7) { return PKCS7_type_is_signedAndEnveloped(p7); }
int portcullis_PKCS7_type_is_data(const PKCS7 *p7) { return PKCS7_type_is_data(p7); }
