/* SPDX-License-Identifier: MIT */
#include "backend.h"

#include <string.h>

static const struct backend_ops *const backends[] = {
	&memfd_backend_ops,
	&kmod_backend_ops, /* /dev/dmabufd-region (kmod/) */
	&dmaheap_backend_ops,
	&udmabuf_backend_ops,
};

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
