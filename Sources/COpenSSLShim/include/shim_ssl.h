#ifndef PORTCULLIS_SHIM_SSL_H
#define PORTCULLIS_SHIM_SSL_H
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED 1
#endif
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <stdint.h>

/* ---- SSL_OP_* (SSL_OP_BIT(n) macros Swift cannot evaluate) ---- */
static const uint64_t portcullis_SSL_OP_NO_EXTENDED_MASTER_SECRET = SSL_OP_NO_EXTENDED_MASTER_SECRET;
static const uint64_t portcullis_SSL_OP_CLEANSE_PLAINTEXT = SSL_OP_CLEANSE_PLAINTEXT;
static const uint64_t portcullis_SSL_OP_LEGACY_SERVER_CONNECT = SSL_OP_LEGACY_SERVER_CONNECT;
static const uint64_t portcullis_SSL_OP_ENABLE_KTLS = SSL_OP_ENABLE_KTLS;
static const uint64_t portcullis_SSL_OP_TLSEXT_PADDING = SSL_OP_TLSEXT_PADDING;
static const uint64_t portcullis_SSL_OP_SAFARI_ECDHE_ECDSA_BUG = SSL_OP_SAFARI_ECDHE_ECDSA_BUG;
static const uint64_t portcullis_SSL_OP_IGNORE_UNEXPECTED_EOF = SSL_OP_IGNORE_UNEXPECTED_EOF;
static const uint64_t portcullis_SSL_OP_ALLOW_CLIENT_RENEGOTIATION = SSL_OP_ALLOW_CLIENT_RENEGOTIATION;
static const uint64_t portcullis_SSL_OP_DISABLE_TLSEXT_CA_NAMES = SSL_OP_DISABLE_TLSEXT_CA_NAMES;
static const uint64_t portcullis_SSL_OP_ALLOW_NO_DHE_KEX = SSL_OP_ALLOW_NO_DHE_KEX;
static const uint64_t portcullis_SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS = SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS;
static const uint64_t portcullis_SSL_OP_NO_QUERY_MTU = SSL_OP_NO_QUERY_MTU;
static const uint64_t portcullis_SSL_OP_COOKIE_EXCHANGE = SSL_OP_COOKIE_EXCHANGE;
static const uint64_t portcullis_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
static const uint64_t portcullis_SSL_OP_CISCO_ANYCONNECT = SSL_OP_CISCO_ANYCONNECT;
static const uint64_t portcullis_SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION = SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION;
static const uint64_t portcullis_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t portcullis_SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION = SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION;
static const uint64_t portcullis_SSL_OP_NO_ENCRYPT_THEN_MAC = SSL_OP_NO_ENCRYPT_THEN_MAC;
static const uint64_t portcullis_SSL_OP_ENABLE_MIDDLEBOX_COMPAT = SSL_OP_ENABLE_MIDDLEBOX_COMPAT;
static const uint64_t portcullis_SSL_OP_PRIORITIZE_CHACHA = SSL_OP_PRIORITIZE_CHACHA;
static const uint64_t portcullis_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const uint64_t portcullis_SSL_OP_TLS_ROLLBACK_BUG = SSL_OP_TLS_ROLLBACK_BUG;
static const uint64_t portcullis_SSL_OP_NO_ANTI_REPLAY = SSL_OP_NO_ANTI_REPLAY;
static const uint64_t portcullis_SSL_OP_NO_SSLv2 = 0;
static const uint64_t portcullis_SSL_OP_NO_SSLv3 = SSL_OP_NO_SSLv3;
static const uint64_t portcullis_SSL_OP_NO_TLSv1 = SSL_OP_NO_TLSv1;
static const uint64_t portcullis_SSL_OP_NO_TLSv1_1 = SSL_OP_NO_TLSv1_1;
static const uint64_t portcullis_SSL_OP_NO_TLSv1_2 = SSL_OP_NO_TLSv1_2;
static const uint64_t portcullis_SSL_OP_NO_TLSv1_3 = SSL_OP_NO_TLSv1_3;
static const uint64_t portcullis_SSL_OP_NO_DTLSv1 = SSL_OP_NO_DTLSv1;
static const uint64_t portcullis_SSL_OP_NO_DTLSv1_2 = SSL_OP_NO_DTLSv1_2;
static const uint64_t portcullis_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t portcullis_SSL_OP_CRYPTOPRO_TLSEXT_BUG = SSL_OP_CRYPTOPRO_TLSEXT_BUG;
static const uint64_t portcullis_SSL_OP_ALL = SSL_OP_ALL;

/* ---- SSL_CTX_ctrl / SSL_CTX_callback_ctrl macros ---- */
long portcullis_SSL_CTX_set_tlsext_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *));
long portcullis_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode);
long portcullis_SSL_CTX_get_session_cache_mode(SSL_CTX *ctx);
long portcullis_SSL_CTX_sess_set_cache_size(SSL_CTX *ctx, long size);
long portcullis_SSL_CTX_sess_get_cache_size(SSL_CTX *ctx);
long portcullis_SSL_CTX_sess_number(SSL_CTX *ctx);
long portcullis_SSL_CTX_set_mode(SSL_CTX *ctx, long mode);
long portcullis_SSL_CTX_clear_mode(SSL_CTX *ctx, long mode);
long portcullis_SSL_CTX_get_mode(SSL_CTX *ctx);
void portcullis_SSL_CTX_set_read_ahead(SSL_CTX *ctx, int yes);
int portcullis_SSL_CTX_get_read_ahead(SSL_CTX *ctx);
int portcullis_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
int portcullis_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
int portcullis_SSL_CTX_get_min_proto_version(SSL_CTX *ctx);
int portcullis_SSL_CTX_get_max_proto_version(SSL_CTX *ctx);
/* Takes ownership of cert on success. */
long portcullis_SSL_CTX_add_extra_chain_cert(SSL_CTX *ctx, X509 *cert);
long portcullis_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list);
long portcullis_SSL_CTX_set_tlsext_status_cb(SSL_CTX *ctx, int (*cb)(SSL *, void *));
long portcullis_SSL_CTX_set_tlsext_status_type(SSL_CTX *ctx, int type);
long portcullis_SSL_get_tlsext_status_ocsp_resp(SSL *ssl, const unsigned char **resp);
/* Takes ownership of resp (OPENSSL_malloc'd) on success. */
long portcullis_SSL_set_tlsext_status_ocsp_resp(SSL *ssl, unsigned char *resp, long len);
/* An SSL ex_data index whose new/free hooks run for every SSL object. */
int portcullis_SSL_get_ex_new_index(CRYPTO_EX_new *newf, CRYPTO_EX_free *freef);
void *portcullis_OPENSSL_malloc(size_t size);

/* ---- STACK_OF(X509_NAME) ---- */
STACK_OF(X509_NAME) *portcullis_sk_X509_NAME_new_null(void);
int portcullis_sk_X509_NAME_push(STACK_OF(X509_NAME) *sk, X509_NAME *name);
int portcullis_sk_X509_NAME_num(const STACK_OF(X509_NAME) *sk);
X509_NAME *portcullis_sk_X509_NAME_value(const STACK_OF(X509_NAME) *sk, int i);
void portcullis_sk_X509_NAME_pop_free(STACK_OF(X509_NAME) *sk);

#endif
