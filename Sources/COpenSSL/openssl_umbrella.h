#ifndef PORTCULLIS_OPENSSL_UMBRELLA_H
#define PORTCULLIS_OPENSSL_UMBRELLA_H
#define OPENSSL_SUPPRESS_DEPRECATED 1 /* legacy pyOpenSSL rows need a few deprecated-but-present 3.0 calls */
/* Only the system OpenSSL 3 headers (Debian's libssl-dev). Never add another include path. */
#include <openssl/opensslv.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <openssl/pkcs7.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/dsa.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <openssl/ocsp.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/provider.h>
#endif
