#!/bin/sh
ab -n 1000 -c 50 http://vote/
