/* sim: the deterministic simulator (DESIGN section 7.2). One seed = one run of 3 or 5 replicas of the real
 * px + zk + store over a simulated network (drop, duplicate, reorder, delay, partition), simulated disks
 * (lost unsynced writes, torn last write, EIO/ENOSPC by countdown), clocks (drift, pauses) and crashes, with
 * simulated ZooKeeper clients.
 *
 * Each node is a driver like the real server's: for every px_update it persists (meta + WAL on its simulated
 * disk, completing after a simulated fsync latency), then sends the messages that waited, steps
 * PX_EV_PERSISTED, applies chosen slots in order (zk_apply per txn of the batch), and replies to clients.
 * The leader resolves client writes with zk_prep_* into txns, batches them and proposes; after winning an
 * election it proposes a no-op barrier and serves nothing until the barrier is applied. Restart recovers from
 * the simulated disk (meta, newest snapshot, WAL replay) into px_durable and zk state.
 *
 * Batches form chains (a workaround the simulator needs; rt and zk have the same problem, see below): every px
 * value the leader proposes starts with a 24-byte header (ballot round, ballot node, epoch, seq); a leader starts a
 * new chain (epoch) with a barrier at seq 1 and numbers its batches 2, 3, ... in proposal order. At apply, a batch
 * is applied only if it continues the applied chain (same chain, seq + 1) or starts a newer one (seq 1); otherwise
 * it is skipped on every replica alike (its clients get an unknown outcome) and a leader whose own chain broke
 * starts a new one. Why: in Multi-Paxos a value accepted under an old ballot at slot s+2 may be re-proposed and
 * chosen after a newer leader's values at s and s+1 (seed 285 with 3 nodes, before this rule: n3's batch from
 * ballot 1.3 chosen at slot 27 after n1's ballot-3.1 batches at 25-26, so zk_apply saw a lower zxid: PK_ECORRUPT).
 * Such a txn was resolved by zk_prep against a state that never existed, so applying it would also be wrong.
 * Zxids are (round << 40 | node << 32 | epoch << 24 | counter), increasing along valid chains.
 *
 * Checked at every step: one value per chosen slot on every replica, equal digests at equal applied slots,
 * digest == from-scratch digest (sampled), at most one leader per ballot, no acknowledged write lost;
 * per-session monotonic reads. At the end: the client history is linearizable (sim_lin) and a liveness phase
 * after healing commits a new write and converges every replica within a bound.
 *
 * Mutants of the driver's effect ordering (compile-time): SIM_MUTANT_REPLY_BEFORE_FSYNC (treat a persist as
 * durable before the simulated fsync: send waited messages and step PX_EV_PERSISTED at once) and
 * SIM_MUTANT_APPLY_OUT_OF_ORDER (apply a newly chosen range in reverse order); and, to show the history checker
 * catches stale reads end to end, SIM_MUTANT_SYNC_LOCAL (clients read from any server, which answers sync and
 * getData from its local state without a quorum round, as a ZooKeeper 3.8 follower does); for the per-session
 * monotonic read check, SIM_MUTANT_IGNORE_LAST_ZXID (a server answers a plain read from a state older than what
 * the session has seen); and SIM_MUTANT_FORGET_DISK_LOST (a wiped node restarts without disk_lost).
 * Pure: no real time, no threads, no files. Everything is derived from opt->seed.
 */
#ifndef PK_SIM_H
#define PK_SIM_H

#include "base/base.h"

typedef struct sim_options {
    uint64_t seed;
    uint32_t nodes;          /* 3 or 5 */
    uint32_t clients;        /* simulated ZooKeeper clients (1..8) */
    uint64_t chaos_ms;       /* simulated time with faults */
    uint64_t liveness_ms;    /* bound after healing for a new commit and convergence */
    bool trace;              /* print a readable trace to stdout */
    bool faults;             /* false: no faults at all (a smoke run) */
    bool own_disk;           /* use the simulator's sim_disk instead of the store's disk_mem */
} sim_options;

typedef struct sim_result {
    bool ok;
    char failure[1024];      /* what failed, when !ok */
    uint64_t faults;         /* faults injected */
    uint64_t client_ops;     /* client operations completed (any outcome) */
    uint64_t history_ops;    /* ops checked for linearizability */
    uint64_t slots;          /* highest applied slot */
    uint64_t sim_ms;         /* simulated time */
    uint64_t lin_steps;      /* linearizability search steps */
} sim_result;

/* Fills defaults for a run of `nodes` replicas with `seed`. */
void sim_options_default(sim_options *opt, uint64_t seed, uint32_t nodes);
/* Runs one simulation; returns true when every check passed. */
bool sim_run(const sim_options *opt, sim_result *res);

#endif
