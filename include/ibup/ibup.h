// SPDX-License-Identifier: MIT
/*
 * libibup: the model of a host's RDMA devices, ports and platform, read from sysfs,
 * procfs and /etc under a chosen root. The library never prints and never exits;
 * it reports problems through return codes and the context's log callback.
 */
#ifndef IBUP_IBUP_H
#define IBUP_IBUP_H

/* The whole public API; each area also has its own header. */
#include "ibup/ctx.h"
#include "ibup/model.h"
#include "ibup/sys.h"
#include "ibup/azure.h"
#include "ibup/ipoib.h"
#include "ibup/check.h"
#include "ibup/plan.h"
#include "ibup/download.h"
#include "ibup/rename.h"
#include "ibup/metrics.h"
#include "ibup/vmext.h"
#include "ibup/env.h"
#include "ibup/install.h"

#endif
