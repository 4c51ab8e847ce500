build-neg/fs/itab.o: fs/itab.c fs/itab.h
fs/itab.h:
