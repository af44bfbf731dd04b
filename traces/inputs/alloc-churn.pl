# Allocator churn for perl (perl-base only, no modules): large strings made
# and dropped, so that glibc's malloc serves them with mmap/munmap (above its
# mmap threshold: 128 KiB at start, raised to the size of the largest mmapped
# chunk freed, up to 32 MiB), with brk growth and trimming (below it), and
# with mremap (a growing mmapped string is realloc'd).
# A fixed linear congruential generator picks the sizes.
my $state = 12345;
sub rnd { $state = ($state * 1103515245 + 12345) & 0x7fffffff; return $state % $_[0]; }
my $KiB = 1024; my $MiB = 1024 * $KiB;
open(my $zero, '<', '/dev/zero') or die "/dev/zero: $!";
my $sum = 0;

# a buffer of $n bytes that the program does not fill itself (read(2) from
# /dev/zero fills it in the kernel), then one store per $stride-th 4 KiB page
sub sparse {
    my ($n, $stride) = @_;
    my $b = '';
    sysread($zero, $b, $n) == $n or die "short read";
    for (my $o = 0; $o < $n; $o += 4096 * $stride) { substr($b, $o, 1) = 'x'; }
    $sum += length($b);
    return $b;
}

# 1. filled strings of growing sizes: each is above the threshold the
#    previous free set, so each is an mmap and a munmap
for (my $n = 132 * $KiB; $n < 6 * $MiB; $n = int($n * 3 / 2)) {
    my $s = "\0" x ($n + rnd(4096));
    $sum += length($s);
    undef $s;
}

# 2. a pool of 16 live buffers replaced at random: mostly 64 KiB - 3 MiB
#    (heap or mmap, depending on the threshold), one in eight 33 - 48 MiB
#    (always mmap), touched sparsely
my @pool;
for my $i (1 .. 250) {
    my $j = rnd(16);
    undef $pool[$j];
    if (rnd(8)) { $pool[$j] = sparse((64 + rnd(3072)) * $KiB, 4); }
    else        { $pool[$j] = sparse((33 + rnd(16)) * $MiB, 64); }
}
undef $_ for @pool;

# 3. strings grown by appending: realloc of an mmapped chunk is mremap
my $chunk = "y" x (256 * $KiB);
for my $r (1 .. 4) {
    my $s = sparse(40 * $MiB + rnd(1024) * 4096, 64);
    for my $k (1 .. 8) { $s .= $chunk; }
    $sum += length($s);
    undef $s;
}
print "$sum\n";
