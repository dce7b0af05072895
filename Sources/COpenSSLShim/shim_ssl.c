#include "shim_ssl.h"
