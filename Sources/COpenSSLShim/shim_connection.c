#include "shim_connection.h"
#include <sys/time.h>

long portcullis_conn_BIO_set_mem_eof_return(BIO *bio, int value) { return BIO_set_mem_eof_return(bio, value); }
int portcullis_conn_BIO_get_ktls_send(BIO *bio) { return (int)BIO_get_ktls_send(bio); }
int portcullis_conn_BIO_get_ktls_recv(BIO *bio) { return (int)BIO_get_ktls_recv(bio); }
long portcullis_conn_BIO_set_fd(BIO *bio, int fd) { return BIO_set_fd(bio, fd, BIO_NOCLOSE); }
int portcullis_conn_BIO_should_retry(BIO *bio) { return BIO_should_retry(bio) ? 1 : 0; }

long portcullis_conn_SSL_set_mode(SSL *ssl, long mode) { return SSL_set_mode(ssl, mode); }
long portcullis_conn_SSL_clear_mode(SSL *ssl, long mode) { return SSL_clear_mode(ssl, mode); }
long portcullis_conn_SSL_get_mode(SSL *ssl) { return SSL_get_mode(ssl); }
int portcullis_conn_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
long portcullis_conn_SSL_set_tlsext_status_type(SSL *ssl, int type) { return SSL_set_tlsext_status_type(ssl, type); }
long portcullis_conn_SSL_total_renegotiations(SSL *ssl) { return SSL_total_renegotiations(ssl); }
int portcullis_conn_SSL_get_negotiated_group(SSL *ssl) { return (int)SSL_get_negotiated_group(ssl); }
long portcullis_conn_SSL_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }

long portcullis_conn_DTLSv1_get_timeout(SSL *ssl, long *seconds, long *microseconds) {
    struct timeval tv;
    long ok = DTLSv1_get_timeout(ssl, &tv);
    if (ok) {
        *seconds = (long)tv.tv_sec;
        *microseconds = (long)tv.tv_usec;
    }
    return ok;
}
long portcullis_conn_DTLSv1_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }

int portcullis_conn_sk_X509_NAME_num(const STACK_OF(X509_NAME) *sk) { return sk_X509_NAME_num(sk); }
X509_NAME *portcullis_conn_sk_X509_NAME_value(const STACK_OF(X509_NAME) *sk, int i) { return sk_X509_NAME_value(sk, i); }
int portcullis_conn_sk_SSL_CIPHER_num(const STACK_OF(SSL_CIPHER) *sk) { return sk_SSL_CIPHER_num(sk); }
const SSL_CIPHER *portcullis_conn_sk_SSL_CIPHER_value(const STACK_OF(SSL_CIPHER) *sk, int i) { return sk_SSL_CIPHER_value(sk, i); }
