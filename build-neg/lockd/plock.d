build-neg/lockd/plock.o: lockd/plock.c lockd/plock.h
lockd/plock.h:
