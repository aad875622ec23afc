/* Suppression's loops over every relation member (services/reporting/suppression.py), in C.
 *
 * numpy narrows every relation of a round at once, so what a reader can work out travels one
 * relation a round, and each round copies arrays as wide as the cube. Here a relation is
 * narrowed at a time from a queue, with what its neighbours narrowed just before.
 *
 * Plain C over the arrays' buffers, no Python API: loaded with ctypes
 * (`suppression._native`), which checks each array's type and layout at every call. Built by
 * setuptools with the package (`pip install .`). */

#include <stdint.h>
#include <string.h>

/* What `suppression._loaded` expects: a library built from another version of this file (a
 * stale build beside newer Python) is refused rather than called with other arguments. */
int64_t pulih_native_version(void) { return 2; }

/* Every relation each cell is in: cell c's are by_cell[cell_starts[c] .. cell_starts[c + 1]),
 * in increasing order. Relation j says totals[j] is the sum of members[starts[j] ..
 * starts[j + 1]). `cell_starts` has cells + 1 places; `by_cell`, relations plus members;
 * `free`, cells. */
void pulih_group(int64_t cells, int64_t relations, const int32_t *totals, const int32_t *starts,
                 const int32_t *members, int32_t *cell_starts, int32_t *by_cell, int32_t *free)
{
    memset(cell_starts, 0, (size_t)(cells + 1) * sizeof *cell_starts);
    for (int64_t j = 0; j < relations; j++) {
        cell_starts[totals[j] + 1]++;
        for (int32_t m = starts[j]; m < starts[j + 1]; m++)
            cell_starts[members[m] + 1]++;
    }
    for (int64_t c = 0; c < cells; c++)
        cell_starts[c + 1] += cell_starts[c];
    memcpy(free, cell_starts, (size_t)cells * sizeof *free);
    for (int64_t j = 0; j < relations; j++) {
        by_cell[free[totals[j]]++] = (int32_t)j;
        for (int32_t m = starts[j]; m < starts[j + 1]; m++)
            by_cell[free[members[m]]++] = (int32_t)j;
    }
}

/* The queue of relations to narrow: each relation at most once in it. */
struct queue {
    int32_t *held;
    uint8_t *queued;
    int64_t capacity, head, size;
};

static void enqueue_relations_of(struct queue *q, int32_t cell, const int32_t *cell_starts,
                                 const int32_t *by_cell)
{
    for (int32_t at = cell_starts[cell]; at < cell_starts[cell + 1]; at++) {
        int32_t j = by_cell[at];
        if (!q->queued[j]) {
            q->queued[j] = 1;
            q->held[(q->head + q->size) % q->capacity] = j;
            q->size++;
        }
    }
}

/* A cell's interval: its two bounds side by side in `bounds`, read together for every member. */
#define LOW(c) bounds[2 * (int64_t)(c)]
#define HIGH(c) bounds[2 * (int64_t)(c) + 1]
#define HELD(x) ((x) > limit ? limit : (x) < -limit ? -limit : (x))

/* Narrows the interval [LOW(c), HIGH(c)] a reader knows of every withheld cell c (published
 * cells hold low = high = their value) by the relations, until nothing moves: a total lies
 * between its parts' sums of lows and of highs; a part is at least the total's low less the
 * other parts' highs, at most the total's high less their lows. Every relation first, in
 * order, then each relation holding a cell that moved, first come first narrowed. Each
 * narrowing only ever tightens, so the order changes only how soon the intervals settle, not
 * where. (The benchmark's closures cubes settle in 2.0 narrowings a relation this way; 2.5
 * with the last relation first, 6 taking the latest queued first.)
 *
 * `queue` has relations places, `queued` relations flags (all zero). A bound is kept within
 * -limit .. limit when it is stored (`HELD`: only ever looser, so still one a reader can work
 * out). Values and ceilings lie there, so a cube whose figures hold their relations never
 * meets it; figures that break them would otherwise push bounds on without end, past what 64
 * bits hold. The sums are exact: at most 2^20 members (`_check`) of at most 2^40 each.
 * Returns the narrowings made, or -1 when `most` were made before the intervals settled (they
 * are then still bounds a reader can work out, only perhaps not the tightest). */
int64_t pulih_narrow(int64_t relations, const int32_t *totals, const int32_t *starts,
                     const int32_t *members, const int32_t *cell_starts, const int32_t *by_cell,
                     const uint8_t *withheld, int64_t *bounds, int32_t *queue,
                     uint8_t *queued, int64_t most, int64_t limit)
{
    struct queue q = {queue, queued, relations, 0, 0};
    for (int64_t n = 0; n < relations; n++) {
        queue[n] = (int32_t)n;
        queued[n] = 1;
    }
    q.size = relations;
    int64_t made = 0;
    while (q.size > 0) {
        if (made == most)
            return -1;
        made++;
        int32_t j = q.held[q.head];
        q.head = (q.head + 1) % q.capacity;
        q.size--;
        queued[j] = 0;
        int64_t lows = 0, highs = 0;
        for (int32_t m = starts[j]; m < starts[j + 1]; m++) {
            lows += LOW(members[m]);
            highs += HIGH(members[m]);
        }
        int32_t total = totals[j];
        int64_t least = HELD(lows), most_held = HELD(highs);
        if (withheld[total] && (least > LOW(total) || most_held < HIGH(total))) {
            if (least > LOW(total))
                LOW(total) = least;
            if (most_held < HIGH(total))
                HIGH(total) = most_held;
            enqueue_relations_of(&q, total, cell_starts, by_cell);
        }
        for (int32_t m = starts[j]; m < starts[j + 1]; m++) {
            int32_t part = members[m];
            if (!withheld[part])
                continue;
            least = HELD(LOW(total) - (highs - HIGH(part)));
            most_held = HELD(HIGH(total) - (lows - LOW(part)));
            if (least > LOW(part) || most_held < HIGH(part)) {
                if (least > LOW(part)) {
                    lows += least - LOW(part);
                    LOW(part) = least;
                }
                if (most_held < HIGH(part)) {
                    highs += most_held - HIGH(part);
                    HIGH(part) = most_held;
                }
                enqueue_relations_of(&q, part, cell_starts, by_cell);
            }
        }
    }
    return made;
}

/* Per relation, whether it falls short: it holds a single withheld non-zero cell, which a
 * reader could subtract back; or, its total published, several, of which a small one is
 * pinned by the others' bounds (those others, each at most its `ceiling`, cannot hold the
 * whole withheld sum between them, so the small one is at least what they cannot hold). */
void pulih_short(int64_t relations, const int32_t *totals, const int32_t *starts,
                 const int32_t *members, const uint8_t *withheld, const int64_t *value,
                 const int64_t *ceiling, const uint8_t *small, uint8_t *short_of)
{
    for (int64_t j = 0; j < relations; j++) {
        int32_t total = totals[j];
        int64_t hidden = withheld[total] && value[total] > 0;
        int64_t remainder = 0, room = 0;
        for (int32_t m = starts[j]; m < starts[j + 1]; m++) {
            int32_t part = members[m];
            if (withheld[part] && value[part] > 0) {
                hidden++;
                remainder += value[part];
                room += ceiling[part];
            }
        }
        uint8_t pinned = 0;
        if (hidden >= 2 && !withheld[total]) {
            for (int32_t m = starts[j]; m < starts[j + 1] && !pinned; m++) {
                int32_t part = members[m];
                pinned = withheld[part] && value[part] > 0 && small[part] &&
                         room - ceiling[part] < remainder;
            }
        }
        short_of[j] = hidden == 1 || pinned;
    }
}
