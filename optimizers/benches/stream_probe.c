/* A C probe of the memory bound step_bench reports as `stream_ms`: the same arrays, the
 * same traffic per element (read p, g, m, v; write p, m, v: 28 bytes in f32) and the same
 * additions, built by the C compiler for this CPU. Run it in the same session as
 * step_bench (the machine's speed drifts):
 *
 *     cc -O3 -march=native -o /tmp/stream_probe optimizers/benches/stream_probe.c
 *     /tmp/stream_probe            # one JSON line: the median of 21 passes over 16M floats
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N (1 << 24)
#define RUNS 21

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    float *p = aligned_alloc(64, N * sizeof(float)), *g = aligned_alloc(64, N * sizeof(float));
    float *m = aligned_alloc(64, N * sizeof(float)), *v = aligned_alloc(64, N * sizeof(float));
    if (!p || !g || !m || !v) return 1;
    for (long i = 0; i < N; i++) {
        p[i] = 0.25f;
        g[i] = 0.251f;
        m[i] = 0.252f;
        v[i] = 0.253f;
    }
    double times[RUNS + 3];
    for (int r = 0; r < RUNS + 3; r++) {
        double start = now();
        for (long i = 0; i < N; i++) {
            m[i] += g[i];
            v[i] += g[i];
            p[i] += m[i] + v[i];
        }
        times[r] = now() - start;
    }
    qsort(times + 3, RUNS, sizeof(double), cmp);
    double sum = 0;
    for (long i = 0; i < N; i += 4096) sum += p[i];
    printf("{\"probe\":\"c_stream\",\"elems\":%d,\"bytes_per_elem\":28,\"median_ms\":%.3f,\"gb_per_s\":%.2f,\"check\":%g}\n",
           N, times[3 + RUNS / 2] * 1e3, 28.0 * N / times[3 + RUNS / 2] / 1e9, sum);
    return 0;
}
