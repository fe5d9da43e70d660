/* tasks/data.h — the data files of the task families (the .csv and .txt files in
 * tasks/data/: skill and topic lists, stopword lists), compiled into the binary by
 * CMakeLists.txt so that a run never depends on the working directory or an
 * install path. Users' own files are read from disk by the families
 * ("file:PATH" params); these are the built-in defaults. */
#ifndef CB_TASKS_DATA_H
#define CB_TASKS_DATA_H

#include <stddef.h>

/* The contents of tasks/data/NAME (NUL-terminated; *len excludes the NUL),
 * or NULL when no such file was compiled in. */
const char *cb_data_file(const char *name, size_t *len);

#endif
