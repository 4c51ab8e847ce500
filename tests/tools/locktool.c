/*
 * locktool: takes, tests and contends for application locks, for the lock
 * tests (t1820, t2800).
 *
 *   locktool lock KIND FILE TYPE START LEN [-w] [-h]
 *       KIND posix (fcntl F_SETLK), ofd (F_OFD_SETLK) or flock (START and
 *       LEN ignored); TYPE r, w or u. -w waits (F_SETLKW, flock without
 *       LOCK_NB); -h then holds: prints "granted" and sleeps until killed.
 *       Exit 0 granted, 1 refused (EAGAIN/EWOULDBLOCK), 2 other error.
 *   locktool getlk KIND FILE TYPE START LEN
 *       KIND posix or ofd. Prints "unlocked" or "read|write START LEN PID".
 *   locktool counter FILE N SEED
 *       N times: fcntl-lock (F_SETLKW, write) [0, L) for a random L of
 *       8..4096 bytes, read the decimal counter in bytes 0..19, add one,
 *       write it back, then unlock [L/2, L) and [0, L/2) (an unlock that
 *       splits the range). Two holders at once lose increments: the
 *       final counter then falls short of the sum of every N.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: locktool lock KIND FILE TYPE START LEN [-w] "
		"[-h] | getlk KIND FILE TYPE START LEN | counter FILE N "
		"SEED\n");
	return 2;
}

static short ltype(const char *t)
{
	return *t == 'r' ? F_RDLCK : *t == 'w' ? F_WRLCK : F_UNLCK;
}

static int do_lock(int argc, char **argv)
{
	const char *kind = argv[2], *path = argv[3];
	int wait = 0, hold = 0, fd, rc, i;
	struct flock fl;

	for (i = 7; i < argc; i++) {
		if (!strcmp(argv[i], "-w"))
			wait = 1;
		else if (!strcmp(argv[i], "-h"))
			hold = 1;
		else
			return usage();
	}
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return 2;
	}
	if (!strcmp(kind, "flock")) {
		int op = *argv[4] == 'r' ? LOCK_SH : *argv[4] == 'w' ?
			 LOCK_EX : LOCK_UN;

		rc = flock(fd, op | (wait ? 0 : LOCK_NB));
	} else {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = ltype(argv[4]);
		fl.l_whence = SEEK_SET;
		fl.l_start = atoll(argv[5]);
		fl.l_len = atoll(argv[6]);
		if (!strcmp(kind, "ofd"))
			rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
		else
			rc = fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
	}
	if (rc) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EACCES) {
			printf("busy\n");
			return 1;
		}
		printf("error %s\n", strerror(errno));
		return 2;
	}
	printf("granted\n");
	fflush(stdout);
	while (hold)
		pause();
	return 0;
}

static int do_getlk(char **argv)
{
	struct flock fl;
	int fd = open(argv[3], O_RDWR);

	if (fd < 0) {
		perror(argv[3]);
		return 2;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = ltype(argv[4]);
	fl.l_whence = SEEK_SET;
	fl.l_start = atoll(argv[5]);
	fl.l_len = atoll(argv[6]);
	if (fcntl(fd, strcmp(argv[2], "ofd") ? F_GETLK : F_OFD_GETLK, &fl)) {
		printf("error %s\n", strerror(errno));
		return 2;
	}
	if (fl.l_type == F_UNLCK)
		printf("unlocked\n");
	else
		printf("%s %lld %lld %d\n", fl.l_type == F_RDLCK ? "read" :
		       "write", (long long)fl.l_start, (long long)fl.l_len,
		       (int)fl.l_pid);
	return 0;
}

static int setlk(int fd, short type, off_t start, off_t len, int cmd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	while (fcntl(fd, cmd, &fl)) {
		if (errno != EINTR) {
			perror("fcntl");
			return -1;
		}
	}
	return 0;
}

static int do_counter(char **argv)
{
	long n = atol(argv[3]), i;
	unsigned seed = (unsigned)atoi(argv[4]);
	int fd = open(argv[2], O_RDWR);
	char buf[32];

	if (fd < 0) {
		perror(argv[2]);
		return 2;
	}
	for (i = 0; i < n; i++) {
		off_t len = 8 + rand_r(&seed) % 4089;
		long long v;
		ssize_t k;

		if (setlk(fd, F_WRLCK, 0, len, F_SETLKW))
			return 2;
		k = pread(fd, buf, 20, 0);
		if (k != 20) {
			fprintf(stderr, "counter: short read %zd\n", k);
			return 2;
		}
		buf[20] = '\0';
		v = atoll(buf) + 1;
		snprintf(buf, sizeof(buf), "%019lld\n", v);
		if (pwrite(fd, buf, 20, 0) != 20) {
			perror("pwrite");
			return 2;
		}
		if (setlk(fd, F_UNLCK, len / 2, len - len / 2, F_SETLK) ||
		    setlk(fd, F_UNLCK, 0, len / 2, F_SETLK))
			return 2;
	}
	printf("done %ld\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 7 && !strcmp(argv[1], "lock"))
		return do_lock(argc, argv);
	if (argc == 7 && !strcmp(argv[1], "getlk"))
		return do_getlk(argv);
	if (argc == 5 && !strcmp(argv[1], "counter"))
		return do_counter(argv);
	return usage();
}
