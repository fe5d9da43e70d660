/* results/merge.h — `capbench merge A.db B.db … -o ALL.db`: the databases of
 * the shards of one evaluation (capbench run --shard I/N, one file per shard)
 * folded into one run.
 *
 * Rules:
 *   - Every run of every source is a part of ONE evaluation: their merge keys
 *     must be equal, else nothing is written and the error names the two runs
 *     and the first field that differs. The merge key is the sha256 of
 *     {suite, config_json with every "shard" member removed (at any depth),
 *     model_id, model_sha256, backend, base_url, seed, limit_n, labels}: shards
 *     of one suite differ only in their shard (the shard is part of a run's
 *     config hash, so config_sha256 alone cannot tell parts of one evaluation
 *     from two evaluations).
 *   - The destination run is the run of the output file with the same merge
 *     key, when there is one (so merging again, or merging the output with a
 *     source, changes nothing: idempotent), else a new run.
 *     Its config_json is the parts' config with its top-level "shard" (when it
 *     has one) set to the run's merged shard, and config_sha256 the sha256 of
 *     that text: a complete merge of shards made by `capbench run` stores
 *     exactly the unsharded run's config and hash. overrides_json: the
 *     parts' overrides without the shard flag.
 *   - Samples are copied by key (item_id, repeat): a key already stored is
 *     left as it is (a duplicate), except that a stored failed sample is
 *     replaced by a successful one (cb_store_add_sample).
 *   - shard: "" when the parts cover every shard 0..N-1 of one N (or a part
 *     was unsharded), else the covered shards, e.g. "0,2/4". status: finished
 *     when every part finished and the shards are complete, else incomplete.
 *     started_at: the earliest part's; finished_at: the latest part's.
 *   - The capability scores of the destination run are recomputed.
 * Two evaluations with the same config, model, seed and labels have the same
 * merge key: label runs that must stay apart (the nightly templates add
 * --label night=DATE).
 */
#ifndef CB_RESULTS_MERGE_H
#define CB_RESULTS_MERGE_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cb_merge_stats {
    int64_t run_id;        /* the destination run */
    int created;           /* 1: a new run; 0: an existing run of the output completed */
    size_t n_parts;        /* source runs */
    int64_t n_added;       /* samples written */
    int64_t n_duplicate;   /* samples whose key was already stored */
    char shard[32];        /* the destination run's shard after the merge */
    char status[16];
} cb_merge_stats;

/* Merges the runs of src[0..n_src) into the file out_path (created when
 * absent). Sources are opened read-only. OUT *st. Errors: CB_EUSAGE when a
 * source is missing, holds no run, or holds runs that are not parts of one
 * evaluation (nothing is written then); CB_EFORMAT / CB_EUNSUP as
 * cb_store_open; CB_EIO; CB_ENOMEM. */
int cb_merge(const char *const *src, size_t n_src, const char *out_path, cb_merge_stats *st, cb_err *err);

/* The merge key (hex sha256) of a run: see above. OUT hex[65]. Errors:
 * CB_EFORMAT when config_json or labels_json is not JSON, CB_ENOMEM. */
struct cb_run_info;
int cb_merge_key(const struct cb_run_info *info, char hex[65], cb_err *err);

#endif
