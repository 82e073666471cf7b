/*
 * live.c - the shell's live result view: the current result of a bare SELECT as
 * a table redrawn in place on the terminal.
 *
 * The result is kept as rows of cell texts (what the table shows). An updating
 * result (a changelog, its first column `op`) is applied: +I appends a row, -U
 * and -D remove one row whose other cells are all equal, and a +U takes the
 * place its -U freed, so an updated group keeps its line instead of jumping to
 * the bottom. Equal rows are found through a hash index over the cells (chains
 * of slot numbers); removed rows leave holes that are compacted away when they
 * outnumber the rows. An append-only result keeps only its newest LIVE_KEEP rows
 * (more than any screen shows) and counts the rest.
 *
 * Drawing: sq_live_write runs on the engine worker that owns the sink and only
 * applies the batch and marks the view dirty; a drawing thread, started on the
 * first batch, redraws at most every LIVE_REDRAW_MS, so a fast stream does not
 * flood the terminal and the last change is on the screen within that time even
 * when nothing follows it. A redraw moves the cursor up over the previous frame
 * (ESC[nA), clears to the end of the screen (ESC[J) and writes the whole frame
 * at once. The frame never takes more lines than the terminal has minus one, and
 * no line is wider than the terminal minus one column, so nothing scrolls away
 * or wraps and the cursor arithmetic stays right: cells are cut with an ellipsis
 * at LIVE_MAX_CELL columns, or fewer when the table is too wide (columns that do
 * not fit even at one character are left out, the status line is cut too);
 * control bytes and invalid UTF-8 show as '?', East Asian wide characters count
 * two columns. Which rows are shown: the first ones of an updating result, the
 * newest ones of an append-only one; the status line says how many there are.
 * The terminal's size is asked (TIOCGWINSZ) at every frame, so a resized window
 * is followed; COLUMNS and LINES, then 80 x 24, stand in when it cannot say.
 *
 * One mutex guards the state; sq_live_finish stops the drawing thread and
 * leaves the final frame on the screen above the shell's next prompt.
 */
#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "formats/format.h"
#include "sql/plan.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define LIVE_MAX_CELL 40   /* widest cell, in terminal columns */
#define LIVE_KEEP 1000     /* newest rows an append-only result keeps */
#define LIVE_REDRAW_MS 100 /* at most one redraw per this many milliseconds */
#define LIVE_FRAME 5       /* lines of a frame besides its rows: 3 rules, header, status */
#define NONE ((size_t)-1)

typedef struct live_row {
    uint64_t hash;
    size_t next;      /* next slot in the same hash chain, or NONE */
    spate_str cell[]; /* the shown cells (ptr NULL: SQL NULL); their bytes follow */
} live_row;

struct sq_live {
    FILE *out;
    int changelog;
    int ncols; /* shown columns: a changelog's op column is not shown */
    char **names;
    spate_type *types;
    spate_str *tmp;       /* cells of the row being taken */
    char (*scratch)[64];  /* their text when it is a number or a timestamp */
    const char *ellipsis; /* one column wide */

    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t drawer;
    int drawer_on, stop;
    int dirty;
    int64_t drawn_ms; /* monotonic time of the last frame */
    int drawn_lines;  /* lines of the last frame, to move up over */
    time_t updated;   /* wall-clock time of the last change (0: none yet) */
    sp_buf frame;

    /* Changelog: the rows in order, NULL where one was removed, with the hash
     * index. Append-only: a ring of the newest rows, oldest at head. */
    live_row **slot;
    size_t nslots, capslots, nlive;
    size_t *bucket;
    size_t nbuckets; /* a power of two, >= capslots */
    size_t hole;     /* slot freed by the last -U, for its +U */
    size_t head;
    uint64_t total; /* append-only: rows received */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An ellipsis the terminal can show: U+2026 in a UTF-8 locale, else '~'. */
static const char *pick_ellipsis(void)
{
    const char *vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !v[0]) continue;
        return strstr(v, "UTF-8") || strstr(v, "utf-8") || strstr(v, "UTF8") || strstr(v, "utf8")
                   ? "\xE2\x80\xA6"
                   : "~";
    }
    return "~";
}

static void term_size(FILE *out, int *cols, int *lines)
{
    struct winsize ws;
    *cols = *lines = 0;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0) {
        *cols = ws.ws_col;
        *lines = ws.ws_row;
    }
    const char *c = getenv("COLUMNS"), *l = getenv("LINES");
    if (*cols <= 0) *cols = c && atoi(c) > 0 ? atoi(c) : 80;
    if (*lines <= 0) *lines = l && atoi(l) > 0 ? atoi(l) : 24;
}

/* ------------------------------------------------------------ cell texts */

/* Decodes the UTF-8 character at s[i] (n bytes in all): its length, and its code
 * point in *cp or -1 when the bytes are not valid UTF-8 (then the length is 1). */
static size_t utf8_next(const char *s, size_t n, size_t i, long *cp)
{
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80                ? 1
                 : c >= 0xC2 && c < 0xE0 ? 2
                 : c >= 0xE0 && c < 0xF0 ? 3
                 : c >= 0xF0 && c < 0xF5 ? 4
                                         : 0;
    long v = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    if (!len || i + len > n) {
        *cp = -1;
        return 1;
    }
    for (size_t k = 1; k < len; k++) {
        unsigned char cc = (unsigned char)s[i + k];
        if ((cc & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = v << 6 | (cc & 0x3F);
    }
    long min = len == 1 ? 0 : len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    *cp = v < min || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000) ? -1 : v;
    return *cp < 0 ? 1 : len;
}

/* Columns a code point takes: 2 for East Asian wide and emoji ranges, else 1. */
static int cp_width(long cp)
{
    static const long wide[][2] = {
        {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
        {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
        {0xFE30, 0xFE4F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
        {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
    };
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (cp >= wide[i][0] && cp <= wide[i][1]) return 2;
    return 1;
}

/* Printable: not a C0 or C1 control, not DEL, not invalid. */
static int printable(long cp)
{
    return cp >= 0x20 && cp != 0x7F && (cp < 0x80 || cp >= 0xA0);
}

static int text_width(spate_str s)
{
    int w = 0;
    long cp;
    for (size_t i = 0; i < s.len;) {
        i += utf8_next(s.ptr, s.len, i, &cp);
        w += printable(cp) ? cp_width(cp) : 1;
    }
    return w;
}

static spate_str shown_text(spate_str s)
{
    return s.ptr ? s : (spate_str){"NULL", 4};
}

static void put_spaces(sp_buf *b, int n)
{
    for (int i = 0; i < n; i++)
        sp_buf_putc(b, ' ');
}

/* Appends s in exactly w columns: padded (on the left when right), or cut with
 * the ellipsis when wider. */
static void put_cell(sq_live *l, spate_str s, int w, int right)
{
    sp_buf *b = &l->frame;
    int tw = text_width(s);
    int room = tw <= w ? w : w - 1, used = 0;
    if (tw <= w && right) put_spaces(b, w - tw);
    long cp;
    for (size_t i = 0; i < s.len;) {
        size_t n = utf8_next(s.ptr, s.len, i, &cp);
        int cw = printable(cp) ? cp_width(cp) : 1;
        if (used + cw > room) break;
        if (printable(cp))
            sp_buf_put(b, s.ptr + i, n);
        else
            sp_buf_putc(b, '?');
        used += cw;
        i += n;
    }
    if (tw > w) {
        put_spaces(b, room - used);
        sp_buf_put(b, l->ellipsis, strlen(l->ellipsis));
    } else if (!right) {
        put_spaces(b, w - tw);
    }
}

/* ----------------------------------------------------------------- rows */

static live_row *row_take(sq_live *l, const spate_row *r)
{
    int first = l->changelog;
    size_t bytes = 0;
    for (int c = 0; c < l->ncols; c++) {
        if (spate_row_is_null(r, c + first))
            l->tmp[c] = (spate_str){NULL, 0};
        else
            l->tmp[c] =
                sq_value_text(r, c + first, l->types[c], l->scratch[c], sizeof l->scratch[c]);
        bytes += l->tmp[c].len;
    }
    size_t head = sizeof(live_row) + (size_t)l->ncols * sizeof(spate_str);
    live_row *row = malloc(head + bytes);
    if (!row) return NULL;
    char *p = (char *)row + head;
    uint64_t h = 0;
    for (int c = 0; c < l->ncols; c++) {
        spate_str s = l->tmp[c];
        h = sp_hash_bytes(sp_hash_u64(h, s.ptr ? s.len + 1 : 0), s.ptr ? s.ptr : "", s.len);
        row->cell[c] = (spate_str){s.ptr ? p : NULL, s.len};
        if (s.len) memcpy(p, s.ptr, s.len);
        p += s.len;
    }
    row->hash = h;
    row->next = NONE;
    return row;
}

static int row_equal(const sq_live *l, const live_row *a, const live_row *b)
{
    if (a->hash != b->hash) return 0;
    for (int c = 0; c < l->ncols; c++) {
        spate_str x = a->cell[c], y = b->cell[c];
        if (!x.ptr != !y.ptr || x.len != y.len || (x.len && memcmp(x.ptr, y.ptr, x.len))) return 0;
    }
    return 1;
}

static void index_link(sq_live *l, size_t i)
{
    size_t *head = &l->bucket[l->slot[i]->hash & (l->nbuckets - 1)];
    l->slot[i]->next = *head;
    *head = i;
}

static void index_rebuild(sq_live *l)
{
    for (size_t i = 0; i < l->nbuckets; i++)
        l->bucket[i] = NONE;
    for (size_t i = 0; i < l->nslots; i++)
        if (l->slot[i]) index_link(l, i);
}

/* Room for one more slot at the end (a changelog's slots and index grow). */
static int changelog_reserve(sq_live *l)
{
    if (l->nslots < l->capslots) return 0;
    size_t cap = l->capslots ? 2 * l->capslots : 64;
    live_row **slot = realloc(l->slot, cap * sizeof *slot);
    if (!slot) return SPATE_ENOMEM;
    l->slot = slot;
    size_t *bucket = realloc(l->bucket, cap * sizeof *bucket);
    if (!bucket) return SPATE_ENOMEM;
    l->bucket = bucket;
    l->capslots = l->nbuckets = cap;
    index_rebuild(l);
    return 0;
}

/* Takes the row equal to row out of the index; its slot, or NONE. */
static size_t changelog_unlink(sq_live *l, const live_row *row)
{
    for (size_t *p = &l->bucket[row->hash & (l->nbuckets - 1)]; *p != NONE; p = &l->slot[*p]->next)
        if (row_equal(l, l->slot[*p], row)) {
            size_t i = *p;
            *p = l->slot[i]->next;
            return i;
        }
    return NONE;
}

/* Drops the holes once they outnumber the rows, keeping the order. */
static void changelog_compact(sq_live *l)
{
    if (l->nslots - l->nlive <= l->nlive + 64) return;
    size_t n = 0;
    for (size_t i = 0; i < l->nslots; i++)
        if (l->slot[i]) l->slot[n++] = l->slot[i];
    l->nslots = n;
    l->hole = NONE;
    index_rebuild(l);
}

static int changelog_apply(sq_live *l, const spate_row *r)
{
    spate_str op = spate_row_is_null(r, 0) ? (spate_str){"+I", 2} : spate_row_str(r, 0);
    int retract = op.len > 0 && op.ptr[0] == '-';
    int update = op.len > 1 && op.ptr[1] == 'U';
    live_row *row = row_take(l, r);
    if (!row) return SPATE_ENOMEM;
    if (retract) {
        size_t i = l->nbuckets ? changelog_unlink(l, row) : NONE;
        free(row);
        if (i != NONE) {
            free(l->slot[i]);
            l->slot[i] = NULL;
            l->nlive--;
        }
        l->hole = update ? i : NONE;
        return 0;
    }
    size_t i = l->hole;
    l->hole = NONE;
    if (!update || i == NONE) {
        if (changelog_reserve(l)) {
            free(row);
            return SPATE_ENOMEM;
        }
        i = l->nslots++;
    }
    l->slot[i] = row;
    index_link(l, i);
    l->nlive++;
    return 0;
}

static void ring_push(sq_live *l, live_row *row)
{
    if (l->nslots < LIVE_KEEP) {
        l->slot[(l->head + l->nslots++) % LIVE_KEEP] = row;
    } else {
        free(l->slot[l->head]);
        l->slot[l->head] = row;
        l->head = (l->head + 1) % LIVE_KEEP;
    }
    l->total++;
}

/* --------------------------------------------------------------- frames */

/* The rows a frame shows: up to max of them, into rows; returns how many. */
static size_t shown_rows(const sq_live *l, const live_row **rows, size_t max)
{
    size_t n = 0;
    if (l->changelog) {
        for (size_t i = 0; i < l->nslots && n < max; i++)
            if (l->slot[i]) rows[n++] = l->slot[i];
        return n;
    }
    size_t skip = l->nslots > max ? l->nslots - max : 0;
    for (size_t i = skip; i < l->nslots; i++)
        rows[n++] = l->slot[(l->head + i) % LIVE_KEEP];
    return n;
}

static void put_rule(sq_live *l, const int *w, int ncols)
{
    for (int c = 0; c < ncols; c++) {
        sp_buf_putc(&l->frame, '+');
        for (int i = 0; i < w[c] + 2; i++)
            sp_buf_putc(&l->frame, '-');
    }
    sp_buf_put(&l->frame, "+\n", 2);
}

static int right_aligned(spate_type t)
{
    return t == SPATE_INT32 || t == SPATE_INT64 || t == SPATE_FLOAT64;
}

static void put_line(sq_live *l, const int *w, int ncols, const spate_str *cells, int header)
{
    for (int c = 0; c < ncols; c++) {
        sp_buf_put(&l->frame, "| ", 2);
        put_cell(l, shown_text(cells[c]), w[c], !header && right_aligned(l->types[c]));
        sp_buf_putc(&l->frame, ' ');
    }
    sp_buf_put(&l->frame, "|\n", 2);
}

/* Redraws the view over its previous frame. Called with the mutex held. */
static void draw(sq_live *l)
{
    l->dirty = 0;
    l->drawn_ms = now_ms();
    int cols, lines;
    term_size(l->out, &cols, &lines);
    size_t max = lines > LIVE_FRAME + 1 ? (size_t)(lines - LIVE_FRAME - 1) : 0;
    size_t all = l->changelog ? l->nlive : l->nslots;
    if (max > all) max = all;
    const live_row **rows = malloc((max ? max : 1) * sizeof *rows);
    int *w = malloc(((size_t)l->ncols + 1) * sizeof *w);
    spate_str *names = malloc(((size_t)l->ncols + 1) * sizeof *names);
    if (!rows || !w || !names) goto out;
    size_t n = shown_rows(l, rows, max);

    /* Widths: the widest shown text, at most LIVE_MAX_CELL; then the widest
     * columns give way until the table fits the terminal. */
    int width = 1;
    for (int c = 0; c < l->ncols; c++) {
        names[c] = (spate_str){l->names[c], strlen(l->names[c])};
        w[c] = text_width(names[c]);
        for (size_t i = 0; i < n; i++) {
            int tw = text_width(shown_text(rows[i]->cell[c]));
            if (tw > w[c]) w[c] = tw;
        }
        if (w[c] > LIVE_MAX_CELL) w[c] = LIVE_MAX_CELL;
        if (w[c] < 1) w[c] = 1;
        width += w[c] + 3;
    }
    while (width > cols - 1) {
        int widest = 0;
        for (int c = 1; c < l->ncols; c++)
            if (w[c] > w[widest]) widest = c;
        if (l->ncols == 0 || w[widest] <= 1) break;
        w[widest]--;
        width--;
    }
    /* Too many columns even at one character each: the last ones are left out. */
    int ncols = l->ncols;
    while (ncols > 1 && width > cols - 1)
        width -= w[--ncols] + 3;

    l->frame.len = 0;
    if (l->drawn_lines > 0) sp_buf_printf(&l->frame, "\r\033[%dA\033[J", l->drawn_lines);
    put_rule(l, w, ncols);
    put_line(l, w, ncols, names, 1);
    put_rule(l, w, ncols);
    for (size_t i = 0; i < n; i++)
        put_line(l, w, ncols, rows[i]->cell, 0);
    put_rule(l, w, ncols);

    /* The status line, cut to the width too. */
    uint64_t count = l->changelog ? l->nlive : l->total;
    char status[128], hms[32] = "";
    int len = snprintf(status, sizeof status, "%llu row%s", (unsigned long long)count,
                       count == 1 ? "" : "s");
    if (n < count)
        len += snprintf(status + len, sizeof status - (size_t)len, " (%s %zu shown)",
                        l->changelog ? "first" : "last", n);
    if (l->updated) {
        struct tm tm;
        localtime_r(&l->updated, &tm);
        strftime(hms, sizeof hms, ", updated %H:%M:%S", &tm);
    }
    snprintf(status + len, sizeof status - (size_t)len, "%s", hms);
    spate_str st = {status, strlen(status)};
    int sw = text_width(st);
    if (sw > cols - 1) sw = cols > 1 ? cols - 1 : 1;
    put_cell(l, st, sw, 0);
    if (sp_buf_putc(&l->frame, '\n') == 0) {
        fwrite(l->frame.p, 1, l->frame.len, l->out);
        fflush(l->out);
        l->drawn_lines = (int)n + LIVE_FRAME;
    }
out:
    free(rows);
    free(w);
    free(names);
}

/* The drawing thread: redraws a dirty view, at most every LIVE_REDRAW_MS. */
static void *drawer_main(void *arg)
{
    sq_live *l = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        if (!l->dirty) {
            pthread_cond_wait(&l->wake, &l->mu);
            continue;
        }
        int64_t due = l->drawn_ms + LIVE_REDRAW_MS;
        if (now_ms() >= due) {
            draw(l);
            continue;
        }
        struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000};
        pthread_cond_timedwait(&l->wake, &l->mu, &ts);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ------------------------------------------------------------------ API */

int sq_live_new(FILE *out, const spate_schema *schema, int changelog, sq_live **out_live)
{
    sq_live *l = calloc(1, sizeof *l);
    if (!l) return sp_err(SPATE_ENOMEM, "out of memory");
    l->out = out;
    l->changelog = changelog;
    l->ncols = spate_schema_count(schema) - (changelog ? 1 : 0);
    if (l->ncols < 0) l->ncols = 0;
    l->ellipsis = pick_ellipsis();
    l->hole = NONE;
    size_t n = (size_t)l->ncols + 1;
    l->names = calloc(n, sizeof *l->names);
    l->types = calloc(n, sizeof *l->types);
    l->tmp = calloc(n, sizeof *l->tmp);
    l->scratch = calloc(n, sizeof *l->scratch);
    if (!changelog) l->slot = calloc(LIVE_KEEP, sizeof *l->slot);
    int ok = l->names && l->types && l->tmp && l->scratch && (changelog || l->slot);
    for (int c = 0; ok && c < l->ncols; c++) {
        l->names[c] = strdup(spate_schema_name(schema, c + (changelog ? 1 : 0)));
        l->types[c] = spate_schema_type(schema, c + (changelog ? 1 : 0));
        ok = l->names[c] != NULL;
    }
    /* The drawing thread's timed waits count on the monotonic clock. */
    pthread_condattr_t ca;
    int cond = ok && pthread_condattr_init(&ca) == 0;
    if (cond) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        cond = pthread_cond_init(&l->wake, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (cond && pthread_mutex_init(&l->mu, NULL) == 0) {
        *out_live = l;
        return 0;
    }
    if (cond) pthread_cond_destroy(&l->wake);
    for (int c = 0; l->names && c < l->ncols; c++)
        free(l->names[c]);
    free(l->names);
    free(l->types);
    free(l->tmp);
    free(l->scratch);
    free(l->slot);
    free(l);
    return sp_err(SPATE_ENOMEM, "out of memory");
}

int sq_live_write(const spate_rows *rows, int64_t time_ms, void *ud)
{
    sq_live *l = ud;
    size_t n = spate_rows_count(rows);
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    if (n == 0 && (l->drawn_lines || l->dirty)) {
        pthread_mutex_unlock(&l->mu);
        return 0; /* an empty batch only draws the empty table, once */
    }
    for (size_t i = 0; i < n && !rc; i++) {
        spate_row r;
        spate_rows_get(rows, i, &r);
        if (l->changelog) {
            rc = changelog_apply(l, &r);
        } else {
            live_row *row = row_take(l, &r);
            if (row)
                ring_push(l, row);
            else
                rc = SPATE_ENOMEM;
        }
    }
    if (l->changelog) changelog_compact(l);
    l->updated = time(NULL);
    l->dirty = 1;
    if (!l->drawer_on && !l->stop)
        l->drawer_on = pthread_create(&l->drawer, NULL, drawer_main, l) == 0;
    if (l->drawer_on)
        pthread_cond_signal(&l->wake);
    else
        draw(l);
    pthread_mutex_unlock(&l->mu);
    return rc ? sp_err(rc, "out of memory keeping the results") : 0;
}

/* Stops the drawing thread. */
static void stop_drawer(sq_live *l)
{
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_signal(&l->wake);
    int on = l->drawer_on;
    l->drawer_on = 0;
    pthread_mutex_unlock(&l->mu);
    if (on) pthread_join(l->drawer, NULL);
}

/* The last frame is drawn only when the screen does not show the result yet:
 * what was printed below the frame since (the job's error message) must stay.
 * Otherwise only the line under the frame is cleared, where the terminal may
 * have echoed the ^C that stopped the job. */
void sq_live_finish(sq_live *l)
{
    if (!l) return;
    stop_drawer(l);
    pthread_mutex_lock(&l->mu);
    if (l->dirty || !l->drawn_lines)
        draw(l);
    else
        fputs("\r\033[K", l->out);
    fflush(l->out);
    pthread_mutex_unlock(&l->mu);
}

void sq_live_free(sq_live *l)
{
    if (!l) return;
    stop_drawer(l);
    size_t cap = l->changelog ? l->nslots : LIVE_KEEP;
    for (size_t i = 0; l->slot && i < cap; i++)
        free(l->slot[i]);
    free(l->slot);
    free(l->bucket);
    for (int c = 0; c < l->ncols; c++)
        free(l->names[c]);
    free(l->names);
    free(l->types);
    free(l->tmp);
    free(l->scratch);
    sp_buf_free(&l->frame);
    pthread_cond_destroy(&l->wake);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
