build-clang/fs/log.o: fs/log.c fs/log.h

fs/log.h:
