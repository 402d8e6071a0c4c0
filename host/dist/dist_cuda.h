/* Moved: the CUDA facts host/dist used are host/backend/dist_device.h (every
 * build has them; no CUDA API and no LL_HAVE_CUDA outside host/backend/).
 * This forwarding header stays only for host/cli/cmd_topo.c until it
 * includes backend/dist_device.h itself. */
#ifndef LL_DIST_CUDA_H
#define LL_DIST_CUDA_H
#include "backend/dist_device.h"
#endif
