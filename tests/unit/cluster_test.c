/*
 * cluster_test: fs/cluster.c without Corosync. The membership (net/memb.h)
 * is stubbed here -- the runner defines every memb_* function cluster.c
 * calls, so the archive's net/memb.o is never linked -- with one dispatch
 * thread that delivers configuration changes, quorum changes, multicasts
 * (in order, to this one member) and the timer, as CPG's dispatch does.
 *
 * One node on a real image: it elects itself, serves as coordinator
 * (TLS listener on loopback) and reaches it through clu_transport;
 * losing quorum fences the node (the data path's callback, the heartbeat
 * stops advancing) and regaining it unfences; the status names the
 * coordinator.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/cluster.h"
#include "lockd/hb.h"
#include "net/mdc.h"
#include "net/memb.h"
#include "tests/unit/testimg.h"

/* ---- the stub membership ------------------------------------------------ */

struct ev {
	int kind;		/* 0 confchg, 1 quorum, 2 message */
	int quorate;
	void *msg;
	size_t len;
	struct ev *next;
};

struct memb {
	const struct memb_cb *cb;
	void *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ev *head, **tail;
	int64_t timer_at;	/* ms, 0 = off */
	int stop;
	pthread_t th;
};

static struct memb *the_memb;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void push(struct memb *m, struct ev *e)
{
	pthread_mutex_lock(&m->mu);
	e->next = NULL;
	*m->tail = e;
	m->tail = &e->next;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

static void *dispatch(void *arg)
{
	struct memb *m = arg;
	struct memb_member me = { 1, (uint32_t)getpid(), 0 };

	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		struct ev *e = m->head;
		struct timespec ts;

		if (e) {
			m->head = e->next;
			if (!m->head)
				m->tail = &m->head;
			pthread_mutex_unlock(&m->mu);
			if (e->kind == 0)
				m->cb->confchg(m->ctx, &me, 1, NULL, 0);
			else if (e->kind == 1)
				m->cb->quorum(m->ctx, e->quorate);
			else
				m->cb->message(m->ctx, 1, me.pid, e->msg,
					       e->len);
			free(e->msg);
			free(e);
			pthread_mutex_lock(&m->mu);
			continue;
		}
		if (m->timer_at && now_ms() >= m->timer_at) {
			m->timer_at = 0;
			pthread_mutex_unlock(&m->mu);
			m->cb->timer(m->ctx);
			pthread_mutex_lock(&m->mu);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&m->cv, &m->mu, &ts);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void stub_quorum(int quorate)
{
	struct ev *e = calloc(1, sizeof(*e));

	e->kind = 1;
	e->quorate = quorate;
	push(the_memb, e);
}

int memb_start(const char *group, const struct memb_cb *cb, void *ctx,
	       struct memb **out)
{
	struct memb *m = calloc(1, sizeof(*m));
	struct ev *e;

	(void)group;
	m->cb = cb;
	m->ctx = ctx;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->tail = &m->head;
	*out = m;		/* published before any callback, as CPG's */
	the_memb = m;
	e = calloc(1, sizeof(*e));
	push(m, e);		/* we joined */
	stub_quorum(1);
	pthread_create(&m->th, NULL, dispatch, m);
	return 0;
}

void memb_stop(struct memb *m)
{
	struct ev *e;

	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->th, NULL);
	while ((e = m->head)) {
		m->head = e->next;
		free(e->msg);
		free(e);
	}
	the_memb = NULL;
	free(m);
}

uint32_t memb_local_node(const struct memb *m)
{
	(void)m;
	return 1;
}

uint32_t memb_local_pid(const struct memb *m)
{
	(void)m;
	return (uint32_t)getpid();
}

void memb_timer(struct memb *m, int ms)
{
	pthread_mutex_lock(&m->mu);
	m->timer_at = ms > 0 ? now_ms() + ms : 0;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

int memb_node_addr(uint32_t node, char *addr, size_t len)
{
	if (node != 1)
		return -ENOENT;
	snprintf(addr, len, "127.0.0.1");
	return 0;
}

int memb_send(struct memb *m, const void *msg, size_t len)
{
	struct ev *e = calloc(1, sizeof(*e));

	e->kind = 2;
	e->msg = malloc(len);
	memcpy(e->msg, msg, len);
	e->len = len;
	push(m, e);
	return 0;
}

/* ---- the suite ------------------------------------------------------------ */

static char img[64];
static struct csvfs_super sb;
static uint8_t key[32] = { 1, 2, 3 };

static int suite_init(void)
{
	if (testimg_new(img, sizeof(img), "cluster_test", 1ull << 30))
		return -1;
	return testimg_mkfs(img, 1ull << 30, &sb);
}

static int suite_clean(void)
{
	unlink(img);
	return 0;
}

static pthread_mutex_t fmu = PTHREAD_MUTEX_INITIALIZER;
static int fence_on = -1, fence_calls;

static void on_fence(void *ctx, int on)
{
	(void)ctx;
	pthread_mutex_lock(&fmu);
	fence_on = on;
	fence_calls++;
	pthread_mutex_unlock(&fmu);
}

static int fence_state(void)
{
	int v;

	pthread_mutex_lock(&fmu);
	v = fence_on;
	pthread_mutex_unlock(&fmu);
	return v;
}

/* Waits up to 20 s for the fence callback to say want. */
static int wait_fence(int want)
{
	int i;

	for (i = 0; i < 2000 && fence_state() != want; i++)
		usleep(10000);
	return fence_state() == want;
}

static void test_one_node_serves_itself_and_fences_without_quorum(void)
{
	struct clu_opts o = { 0 };
	struct mdc_transport t;
	struct mdc_volinfo vi;
	struct csvfs_attr a;
	struct csvfs_hb h1, h2;
	struct mdc *mdc;
	struct dev *dev;
	struct clu *c;
	char why[256] = "";
	int rc;

	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	o.dev = dev;
	o.sb = &sb;
	o.key = key;
	/* a port of our own: other sessions run suites at the same time */
	o.port = (uint16_t)(20000 + getpid() % 20000);
	o.wait_ms = 60000;
	rc = clu_start(&o, &c, why, sizeof(why));
	if (rc)
		printf("\n    clu_start: %d %s\n", rc, why);
	CU_ASSERT_FATAL(rc == 0);
	CU_ASSERT_EQUAL(clu_node(c), 1);
	clu_set_fence(c, on_fence, NULL);

	/* Requests reach the coordinator this node runs. */
	clu_transport(c, &t);
	CU_ASSERT_FATAL(mdc_new(&t, 1, 7, &mdc) == 0);
	CU_ASSERT(mdc_hello(mdc, "cluster_test", &vi) == 0);
	CU_ASSERT(mdc_create(mdc, vi.root_ino, "f", S_IFREG | 0644, 0, 0,
			     CSVFS_OPEN_WRITE, &a) == 0);
	CU_ASSERT(mdc_getattr(mdc, a.ino, &a) == 0);
	/* Ownership is kept in cluster mode: node 1 writes the file. */
	CU_ASSERT_EQUAL(a.own_node, 1);
	CU_ASSERT_EQUAL(a.own_mode, CSVFS_OWN_WRITER);

	/* Quorum lost: fenced, and the heartbeat stands still. */
	stub_quorum(0);
	CU_ASSERT(wait_fence(1));
	usleep(1500 * 1000);
	CU_ASSERT(hb_read(dev, &sb, 0, &h1) == 0);
	usleep(2500 * 1000);
	CU_ASSERT(hb_read(dev, &sb, 0, &h2) == 0);
	CU_ASSERT_EQUAL(h1.counter, h2.counter);
	/* Back: unfenced, the heartbeat advances again. */
	stub_quorum(1);
	CU_ASSERT(wait_fence(0));
	usleep(2500 * 1000);
	CU_ASSERT(hb_read(dev, &sb, 0, &h1) == 0);
	CU_ASSERT(h1.counter != h2.counter);

	clu_set_fence(c, NULL, NULL);
	mdc_free(mdc);
	clu_stop(c);
	/* It left: its slot says so. */
	CU_ASSERT(hb_read(dev, &sb, 0, &h1) == 0);
	CU_ASSERT_EQUAL(h1.state, CSVFS_HB_LEFT);
	dev_close(dev);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("cluster", suite_init, suite_clean);
	CU_add_test(s, "one node serves itself and fences without quorum",
		    test_one_node_serves_itself_and_fences_without_quorum);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
