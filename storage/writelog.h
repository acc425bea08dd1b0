/* Former name of storage/log_block.h, kept only so that code not yet switched (storage/store.c)
 * still compiles; include log_block.h instead. Remove once nothing includes this file. */
#ifndef JIALING_STORAGE_WRITELOG_H
#define JIALING_STORAGE_WRITELOG_H

#include "log_block.h"

#endif
