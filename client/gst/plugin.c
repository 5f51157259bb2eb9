/* SPDX-License-Identifier: MIT */
/* The dmabufd GStreamer plugin: dmabufdsink (allocator and pool inside), dmabufdsrc. */
#include <gst/gst.h>

#include "gstdmabufdsink.h"
#include "gstdmabufdsrc.h"

#ifndef PACKAGE
#define PACKAGE "dmabufd"
#endif
#ifndef DMABUFD_VERSION_STRING
#define DMABUFD_VERSION_STRING "0.1.0"
#endif

static gboolean plugin_init(GstPlugin *plugin)
{
	gboolean ok = GST_ELEMENT_REGISTER(dmabufdsink, plugin);

	return GST_ELEMENT_REGISTER(dmabufdsrc, plugin) && ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, dmabufd,
		  "dmabufd buffers for GStreamer: allocator, buffer pool, sink, source",
		  plugin_init, DMABUFD_VERSION_STRING, "MIT", "dmabufd", "dmabufd")
