// Shifts the wall clock a process reads, and nothing else: LD_PRELOAD it with
// DROVER_RIG_CLOCK_FILE naming a file that holds the offset from true time (`+600`, `-10`,
// `+10m`, `-1d`; re-read at most every 100 ms, so writing the file steps the clock of
// processes already running). Monotonic clocks and every timer stay true, as on a machine
// whose NTP stepped its clock.
//
// Written for the rig because libfaketime, even with FAKETIME_DONT_FAKE_MONOTONIC=1, moves
// absolute CLOCK_MONOTONIC deadlines by the offset (timerfd_settime with TFD_TIMER_ABSTIME,
// clock_nanosleep with TIMER_ABSTIME: libfaketime issues #378 and #426). Swift's
// Task.sleep sleeps on such timers, so under libfaketime a clock set 10 s back delays
// every sleep by 10 s, which no real clock step does.
//
// Limit: an absolute wait on the wall clock (pthread_cond_timedwait, a CLOCK_REALTIME
// timer) still sees true time; a program that computes its deadline from the shifted clock
// waits the offset longer or shorter. Drover's processes wait on monotonic clocks.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
static clock_gettime_fn real_clock_gettime;
static const char *offset_file;
static _Atomic long long offset_ns;
static _Atomic long long read_at_ns = -1;

__attribute__((constructor)) static void setup(void) {
    real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    offset_file = getenv("DROVER_RIG_CLOCK_FILE");
}

// "+600", "-10m", "1d": seconds with an optional unit; anything else reads as 0.
static long long parse_offset(const char *text) {
    long long sign = 1, value = 0;
    if (*text == '+') text++;
    else if (*text == '-') { sign = -1; text++; }
    if (*text < '0' || *text > '9') return 0;
    while (*text >= '0' && *text <= '9') value = value * 10 + (*text++ - '0');
    long long unit = 1;
    switch (*text) {
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: break;
    }
    return sign * value * unit * 1000000000LL;
}

static long long current_offset(void) {
    if (!offset_file || !real_clock_gettime) return 0;
    struct timespec now;
    real_clock_gettime(CLOCK_MONOTONIC, &now);
    long long now_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
    long long last = atomic_load(&read_at_ns);
    if (last >= 0 && now_ns - last < 100000000LL) return atomic_load(&offset_ns);
    atomic_store(&read_at_ns, now_ns);
    int fd = open(offset_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return atomic_load(&offset_ns);
    char buffer[64];
    ssize_t count = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    if (count <= 0) return atomic_load(&offset_ns);
    buffer[count] = 0;
    atomic_store(&offset_ns, parse_offset(buffer));
    return atomic_load(&offset_ns);
}

static void shift(struct timespec *ts) {
    long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + current_offset();
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
    if (ts->tv_nsec < 0) { ts->tv_nsec += 1000000000L; ts->tv_sec -= 1; }
}

static int is_wall_clock(clockid_t id) {
    return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (!real_clock_gettime) real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real_clock_gettime(id, ts);
    if (rc == 0 && is_wall_clock(id)) shift(ts);
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0 && tv) { tv->tv_sec = ts.tv_sec; tv->tv_usec = ts.tv_nsec / 1000; }
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0) return 0;
    return base;
}
