#ifndef PORTCULLIS_SHIM_CONNECTION_H
#define PORTCULLIS_SHIM_CONNECTION_H
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED 1
#endif
/* Function-like macros used by OpenSSLSSL.Connection (the per-connection side of libssl). */
#include <openssl/ssl.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

/* BIO_set_mem_eof_return: what an empty memory BIO returns (-1 = retry, 0 = EOF). */
long portcullis_conn_BIO_set_mem_eof_return(BIO *bio, int value);
/* BIO_get_ktls_send / BIO_get_ktls_recv: 1 when the fd BIO offloads that direction to the kernel. */
int portcullis_conn_BIO_get_ktls_send(BIO *bio);
int portcullis_conn_BIO_get_ktls_recv(BIO *bio);
/* BIO_set_fd on a socket BIO (used to detach a closed descriptor). */
long portcullis_conn_BIO_set_fd(BIO *bio, int fd);
/* BIO_should_retry. */
int portcullis_conn_BIO_should_retry(BIO *bio);

long portcullis_conn_SSL_set_mode(SSL *ssl, long mode);
long portcullis_conn_SSL_clear_mode(SSL *ssl, long mode);
long portcullis_conn_SSL_get_mode(SSL *ssl);
int portcullis_conn_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
long portcullis_conn_SSL_set_tlsext_status_type(SSL *ssl, int type);
long portcullis_conn_SSL_total_renegotiations(SSL *ssl);
int portcullis_conn_SSL_get_negotiated_group(SSL *ssl);
long portcullis_conn_SSL_set_mtu(SSL *ssl, long mtu);
long portcullis_conn_DTLSv1_get_timeout(SSL *ssl, long *seconds, long *microseconds);
long portcullis_conn_DTLSv1_handle_timeout(SSL *ssl);

/* STACK_OF(X509_NAME) */
int portcullis_conn_sk_X509_NAME_num(const STACK_OF(X509_NAME) *sk);
X509_NAME *portcullis_conn_sk_X509_NAME_value(const STACK_OF(X509_NAME) *sk, int i);
/* STACK_OF(SSL_CIPHER) */
int portcullis_conn_sk_SSL_CIPHER_num(const STACK_OF(SSL_CIPHER) *sk);
const SSL_CIPHER *portcullis_conn_sk_SSL_CIPHER_value(const STACK_OF(SSL_CIPHER) *sk, int i);

#endif
