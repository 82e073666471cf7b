/*
 * sql_cmd.c - `spate sql`: the interactive SQL shell.
 *
 * Input is read a line at a time - from libedit's readline() with the prompts
 * `spate> ` and `    -> ` when stdin is a terminal, from stdin without prompts
 * otherwise - and cut into statements by a small scanner that follows the
 * lexer's rules: a statement ends at a ';' that is not inside a '...', "..." or
 * `...` quote (a doubled quote stands for itself), a -- comment or a block
 * comment, so statements may span lines and one line may hold several. Each
 * statement goes to sq_session_exec on its own; when it leaves a pending job (a
 * SELECT or an INSERT), the job is built and run in the foreground before the
 * next statement is read, exactly as `spate run` runs a script's job, and its
 * results go to stdout - on a terminal in the table format as a live view
 * redrawn in place (sql/live.c). Errors are printed by the session and the shell
 * reads on; piped, the exit status is 1 when any statement failed.
 *
 * Positions in errors: piped, the statement is handed to the session behind as
 * many newlines and spaces as precede it in the input, so "<stdin>:LINE:COL"
 * names the place in the whole input; at the prompt they count from the start
 * of the statement just typed.
 *
 * Signals, on a terminal: outside jobs SIGINT stays blocked in the shell and is
 * read from a signalfd, which libedit's character source (prompt_getc) waits on
 * together with the terminal. So a Ctrl-C is one more event of that wait and
 * ends the readline() in progress wherever it lands (a handler setting a flag
 * would miss every Ctrl-C arriving while libedit works between two reads); the
 * shell drops the half-typed statement and prompts again. A Ctrl-C while a
 * statement executes is forgotten at the next prompt. Before a job is built
 * SIGTERM is blocked too, so the engine's threads inherit the mask; cli_run_job
 * turns the first signal into a graceful stop of the job and returns with both
 * blocked and their actions the default; SIGTERM is then unblocked again (at the
 * prompt it ends the shell, libedit restoring the terminal first). Piped, the
 * default actions stay between jobs: Ctrl-C ends the shell.
 *
 * Shell commands, recognised where a statement would start: \help, \q, quit and
 * exit (a trailing ';' allowed). History (a line per entry, like sqlite3) lives in
 * ~/.spate_history and is saved before every job, since a job may end with the
 * process killed by a second Ctrl-C.
 */
#include "cli.h"
#include "sql/sql.h"

#include <editline/readline.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <wchar.h>

#define HISTORY_FILE ".spate_history"
#define HISTORY_MAX 1000

/* Where the scanner is in the statement being assembled. */
typedef enum scan_state { SC_PLAIN, SC_QUOTE, SC_LINE_COMMENT, SC_BLOCK_COMMENT } scan_state;

typedef struct shell {
    sq_session *s;
    int tty;           /* stdin is a terminal: prompts, line editing, history */
    int failed;        /* a statement or a job failed */
    int quit;
    char *history;     /* the history file, or NULL */
    char *last_line;   /* the last line put in the history */

    char *text;        /* the statement being assembled */
    size_t len, cap;
    int oom;           /* text could not grow: the statement is dropped */
    scan_state state;
    char quote;
    int content;       /* text holds more than blanks and comments */
    size_t line;       /* input line being scanned, from 1 */
    size_t start_line, start_col; /* where text starts in the input */
} shell;

/* SIGINT at the prompt: read from interrupt_fd (open for the life of the
 * process); interrupted tells why readline() returned NULL. */
static int interrupt_fd = -1;
static int interrupted;

/* The signal state between jobs (see the header comment). */
static void prompt_signals(const shell *sh)
{
    sigset_t intr, term;
    sigemptyset(&intr);
    sigaddset(&intr, SIGINT);
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(sh->tty ? SIG_BLOCK : SIG_UNBLOCK, &intr, NULL);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
}

/* Forgets a Ctrl-C pressed before a new prompt. */
static void interrupt_clear(void)
{
    struct signalfd_siginfo si;
    while (read(interrupt_fd, &si, sizeof si) > 0) continue;
    interrupted = 0;
}

/* libedit's character source: the next character typed (a multibyte one
 * decoded in the locale), or -1 - the end of the input for libedit - at the end
 * of the input or on Ctrl-C. */
static int prompt_getc(FILE *in)
{
    int fd = fileno(in);
    mbstate_t mb;
    memset(&mb, 0, sizeof mb);
    for (;;) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        FD_SET(interrupt_fd, &fds);
        int ready = select((fd > interrupt_fd ? fd : interrupt_fd) + 1, &fds, NULL, NULL, NULL);
        if (ready < 0 && errno == EINTR) continue; /* a resize, a resumed job */
        if (ready < 0) return -1;
        struct signalfd_siginfo si;
        if (FD_ISSET(interrupt_fd, &fds) && read(interrupt_fd, &si, sizeof si) > 0) {
            interrupted = 1;
            return -1;
        }
        if (!FD_ISSET(fd, &fds)) continue;
        char b;
        ssize_t n = read(fd, &b, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n != 1) return -1;
        wchar_t wc;
        size_t k = mbrtowc(&wc, &b, 1, &mb);
        if (k == (size_t)-2) continue; /* more bytes to come */
        if (k == (size_t)-1) {
            memset(&mb, 0, sizeof mb);
            return (unsigned char)b; /* not valid in the locale: the byte itself */
        }
        return (int)wc;
    }
}

static void print_help(FILE *out)
{
    fputs("Statements end with ';' and may span lines:\n"
          "  CREATE SOURCE | TABLE | SINK | VIEW ...   define inputs, reference data, outputs\n"
          "  DROP SOURCE | TABLE | SINK | VIEW name\n"
          "  SHOW SOURCES | TABLES | SINKS | VIEWS | FUNCTIONS\n"
          "  DESCRIBE name\n"
          "  SET key = value;  SET;  RESET [key]      job options\n"
          "  EXPLAIN SELECT ... | INSERT ...           the operators a query becomes\n"
          "  SELECT ...                   runs until its input ends or Ctrl-C; an\n"
          "                               updating result is a table redrawn in place\n"
          "  INSERT INTO sink SELECT ...  runs until its input ends or Ctrl-C\n"
          "Shell commands:\n"
          "  \\help                        this list\n"
          "  \\format table|jsonl|csv      how SELECT results print\n"
          "  \\q, quit, exit               leave (so does Ctrl-D)\n"
          "Ctrl-C stops a running query, or drops the statement being typed.\n"
          "docs/sql.md describes the dialect; 'spate help connectors' the connectors.\n",
          out);
}

/* ----------------------------------------------------------- statements */

static void text_put(shell *sh, char c)
{
    if (sh->len == sh->cap) {
        size_t cap = sh->cap ? 2 * sh->cap : 256;
        char *t = realloc(sh->text, cap);
        if (!t) {
            sh->oom = 1;
            return;
        }
        sh->text = t;
        sh->cap = cap;
    }
    sh->text[sh->len++] = c;
}

static void text_reset(shell *sh)
{
    sh->len = 0;
    sh->content = 0;
    sh->oom = 0;
    sh->state = SC_PLAIN;
}

/* Builds and runs the pending job in the foreground. */
static void run_job(shell *sh)
{
    if (sh->history) write_history(sh->history);
    fflush(stdout);
    cli_block_stop_signals();
    spate_ctx *ctx;
    if (sq_session_build_job(sh->s, &ctx)) {
        sh->failed = 1;
    } else {
        if (cli_run_job(ctx) != CLI_OK) sh->failed = 1;
        spate_ctx_free(ctx);
        sq_session_job_done(sh->s);
    }
    prompt_signals(sh);
}

/* Executes the statement in text (which ends with its ';' or the input). */
static void run_statement(shell *sh)
{
    if (sh->oom) {
        sh->failed = 1;
        cli_fail("out of memory: statement dropped");
        return;
    }
    /* Piped: pad the statement to its place in the input, for error positions. */
    size_t pad_lines = sh->tty ? 0 : sh->start_line - 1;
    size_t pad_cols = sh->tty ? 0 : sh->start_col - 1;
    size_t n = pad_lines + pad_cols + sh->len;
    char *stmt = sh->text;
    if (n > sh->len) {
        stmt = malloc(n);
        if (!stmt) {
            sh->failed = 1;
            cli_fail("out of memory: statement dropped");
            return;
        }
        memset(stmt, '\n', pad_lines);
        memset(stmt + pad_lines, ' ', pad_cols);
        memcpy(stmt + pad_lines + pad_cols, sh->text, sh->len);
    }
    int rc = sq_session_exec(sh->s, stmt, n);
    if (stmt != sh->text) free(stmt);
    fflush(stdout);
    if (rc) sh->failed = 1;
    else if (sq_session_has_job(sh->s)) run_job(sh);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Scans one input line (without its newline), running every statement it ends. */
static void feed_line(shell *sh, const char *line, size_t n)
{
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? line[i] : '\n';
        char next = i + 1 < n ? line[i + 1] : i + 1 == n ? '\n' : 0;
        switch (sh->state) {
        case SC_PLAIN:
            if (c == ';') {
                text_put(sh, c);
                if (sh->content) run_statement(sh);
                text_reset(sh);
                continue;
            }
            if (sh->len == 0) {
                if (is_blank(c)) continue; /* a statement starts at its first non-blank */
                sh->start_line = sh->line;
                sh->start_col = i + 1;
            }
            if (c == '\'' || c == '"' || c == '`') {
                sh->state = SC_QUOTE;
                sh->quote = c;
            } else if ((c == '-' && next == '-') || (c == '/' && next == '*')) {
                sh->state = c == '-' ? SC_LINE_COMMENT : SC_BLOCK_COMMENT;
                text_put(sh, c);
                c = next;
                i++;
            }
            sh->content |= !is_blank(c) && sh->state != SC_LINE_COMMENT &&
                           sh->state != SC_BLOCK_COMMENT;
            text_put(sh, c);
            break;
        case SC_QUOTE:
            text_put(sh, c);
            if (c != sh->quote) break;
            if (next == sh->quote) {
                text_put(sh, next);
                i++;
            } else {
                sh->state = SC_PLAIN;
            }
            break;
        case SC_LINE_COMMENT:
            text_put(sh, c);
            if (c == '\n') sh->state = SC_PLAIN;
            break;
        case SC_BLOCK_COMMENT:
            text_put(sh, c);
            if (c == '*' && next == '/') {
                text_put(sh, next);
                i++;
                sh->state = SC_PLAIN;
            }
            break;
        }
    }
    /* Nothing but blanks and comments: forget them, so the next prompt is the
     * first one and the next statement's lines count from its own start. */
    if (!sh->content && sh->state == SC_PLAIN) text_reset(sh);
}

/* \format NAME: how later SELECT results print; live on a terminal for tables. */
static void set_format(shell *sh, const char *arg)
{
    while (is_blank(*arg)) arg++;
    char name[16];
    size_t n = 0;
    while (arg[n] && !is_blank(arg[n]) && n + 1 < sizeof name) {
        name[n] = arg[n];
        n++;
    }
    name[n] = 0;
    int fmt;
    if (!n || cli_result_format(name, &fmt)) {
        cli_fail("\\format takes table, jsonl, csv or auto");
        sh->failed = 1;
        return;
    }
    int tty = isatty(STDOUT_FILENO);
    int table = fmt == SQ_FMT_TABLE || (fmt == SQ_FMT_AUTO && tty);
    sq_session_set_format(sh->s, (sq_result_format)fmt, tty && table);
}

/* A shell command (where a statement would start): 1 when line was one. */
static int shell_command(shell *sh, const char *line)
{
    while (is_blank(*line)) line++;
    size_t n = strlen(line);
    while (n && is_blank(line[n - 1])) n--;
    if (line[0] == '\\') {
        size_t w = 1;
        while (w < n && !is_blank(line[w])) w++;
        if ((w == 2 && line[1] == 'q') || (w == 5 && strncmp(line, "\\quit", 5) == 0)) {
            sh->quit = 1;
        } else if ((w == 5 && strncmp(line, "\\help", 5) == 0) ||
                   (w == 2 && (line[1] == 'h' || line[1] == '?'))) {
            print_help(stdout);
        } else if (w == 7 && strncmp(line, "\\format", 7) == 0) {
            set_format(sh, line + w);
        } else {
            cli_fail("unknown shell command '%.*s' (\\help lists them)", (int)w, line);
            sh->failed = 1;
        }
        return 1;
    }
    if (n && line[n - 1] == ';') n--;
    while (n && is_blank(line[n - 1])) n--;
    if ((n == 4 && strncasecmp(line, "quit", 4) == 0) ||
        (n == 4 && strncasecmp(line, "exit", 4) == 0)) {
        sh->quit = 1;
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- input */

/* The next input line, malloc'd and without its newline; NULL at the end of
 * the input (or after Ctrl-C at the prompt: then interrupted is set). */
static char *read_line(shell *sh)
{
    fflush(stdout);
    fflush(stderr);
    if (sh->tty) {
        interrupt_clear();
        return readline(sh->len ? "    -> " : "spate> ");
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got = getline(&line, &cap, stdin);
    if (got < 0) {
        free(line);
        return NULL;
    }
    if (got > 0 && line[got - 1] == '\n') line[got - 1] = 0;
    return line;
}

static void remember(shell *sh, const char *line)
{
    const char *p = line;
    while (is_blank(*p)) p++;
    if (!*p || (sh->last_line && strcmp(sh->last_line, line) == 0)) return;
    add_history(line);
    free(sh->last_line);
    sh->last_line = strdup(line);
}

/* Line editing, history and the Ctrl-C watch. libedit takes multibyte
 * characters (a name or a string in UTF-8) only in the user's LC_CTYPE; the rest
 * of the locale, LC_NUMERIC in particular, stays "C" as the engine expects. */
static int editor_open(shell *sh)
{
    sigset_t intr;
    sigemptyset(&intr);
    sigaddset(&intr, SIGINT);
    pthread_sigmask(SIG_BLOCK, &intr, NULL);
    interrupt_fd = signalfd(-1, &intr, SFD_NONBLOCK | SFD_CLOEXEC);
    if (interrupt_fd < 0) return -1;
    const char *home = getenv("HOME");
    setlocale(LC_CTYPE, "");
    rl_readline_name = "spate"; /* "spate:" lines of ~/.editrc apply */
    rl_getc_function = prompt_getc;
    if (!isatty(STDOUT_FILENO)) rl_outstream = stderr;
    using_history();
    stifle_history(HISTORY_MAX);
    if (!home || !home[0]) return 0;
    size_t n = strlen(home) + sizeof "/" HISTORY_FILE;
    sh->history = malloc(n);
    if (!sh->history) return 0;
    snprintf(sh->history, n, "%s/%s", home, HISTORY_FILE);
    read_history(sh->history);
    return 0;
}

static void shell_loop(shell *sh)
{
    while (!sh->quit) {
        char *line = read_line(sh);
        if (!line && sh->tty && interrupted) {
            /* Ctrl-C at the prompt: drop what was typed of the statement. */
            fputs("^C\n", rl_outstream);
            text_reset(sh);
            continue;
        }
        if (!line) break;
        sh->line++;
        size_t n = strlen(line);
        if (sh->line == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            memmove(line, line + 3, n - 2); /* a UTF-8 byte order mark */
            n -= 3;
        }
        if (sh->tty) remember(sh, line);
        if (sh->len > 0 || !shell_command(sh, line)) feed_line(sh, line, n);
        free(line);
    }
    if (sh->quit) return;
    if (sh->tty) {
        fputc('\n', rl_outstream); /* Ctrl-D: the caller's prompt on a line of its own */
    } else if (sh->len) {
        /* The last ';' is optional; an open quote or comment is the session's to report. */
        run_statement(sh);
    }
}

int cli_cmd_sql(int argc, char **argv)
{
    sq_session_opts o = {.out = stdout, .err = stderr};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            cli_print_command_help(cli_find("sql"), stdout);
            return CLI_OK;
        }
        if (strcmp(a, "--once") == 0) {
            o.once = 1;
        } else if (strcmp(a, "--format") == 0) {
            if (i + 1 >= argc) return cli_usage_error("sql", "%s needs a value", a);
            int f;
            if (cli_result_format(argv[++i], &f))
                return cli_usage_error("sql", "unknown format '%s' (table, jsonl, csv)", argv[i]);
            o.format = (sq_result_format)f;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("sql", "unknown option '%s'", a);
        } else {
            return cli_usage_error("sql", "unexpected argument '%s' (statements are read "
                                          "from stdin)", a);
        }
    }
    shell sh = {.tty = isatty(STDIN_FILENO)};
    o.live = isatty(STDOUT_FILENO) && (o.format == SQ_FMT_TABLE || o.format == SQ_FMT_AUTO);
    o.source_name = sh.tty ? NULL : "<stdin>";
    if (sq_session_new(&o, &sh.s)) return cli_fail("out of memory");
    if (sh.tty && editor_open(&sh)) {
        sq_session_free(sh.s);
        return cli_fail("cannot watch for Ctrl-C: %s", strerror(errno));
    }
    prompt_signals(&sh);
    shell_loop(&sh);
    if (sh.history) write_history(sh.history);
    sq_session_free(sh.s);
    free(sh.history);
    free(sh.last_line);
    free(sh.text);
    return !sh.tty && sh.failed ? CLI_FAILED : CLI_OK;
}
