#include "shim_x509.h"

STACK_OF(X509_EXTENSION) *portcullis_sk_X509_EXTENSION_new_null(void) { return sk_X509_EXTENSION_new_null(); }
int portcullis_sk_X509_EXTENSION_num(const STACK_OF(X509_EXTENSION) *sk) { return sk_X509_EXTENSION_num(sk); }
X509_EXTENSION *portcullis_sk_X509_EXTENSION_value(const STACK_OF(X509_EXTENSION) *sk, int i) {
    return sk_X509_EXTENSION_value(sk, i);
}
int portcullis_sk_X509_EXTENSION_push(STACK_OF(X509_EXTENSION) *sk, X509_EXTENSION *ext) {
    return sk_X509_EXTENSION_push(sk, ext);
}
void portcullis_sk_X509_EXTENSION_free(STACK_OF(X509_EXTENSION) *sk) { sk_X509_EXTENSION_free(sk); }
void portcullis_sk_X509_EXTENSION_pop_free(STACK_OF(X509_EXTENSION) *sk) {
    sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
}

int portcullis_sk_GENERAL_NAME_num(const GENERAL_NAMES *sk) { return sk_GENERAL_NAME_num(sk); }
GENERAL_NAME *portcullis_sk_GENERAL_NAME_value(const GENERAL_NAMES *sk, int i) { return sk_GENERAL_NAME_value(sk, i); }

void portcullis_X509V3_set_ctx_nodb(X509V3_CTX *ctx) { X509V3_set_ctx_nodb(ctx); }
