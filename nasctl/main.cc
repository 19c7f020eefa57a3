// nasctl: the command-line client of nas.v1.SearchService.
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "common/client/channel.h"
#include "common/env_defaults.h"
#include "common/release_mutexes.h"
#include "nasctl/args.h"
#include "nasctl/commands.h"
#include "nasctl/format.h"

#ifndef NASCTL_VERSION
#define NASCTL_VERSION "unknown"
#endif

namespace {

struct Command {
  std::function<int(nas::cli::Context&, const nas::cli::Args&)> run;
  const char* usage;
  const char* help;
  // The options this command takes besides the global ones; any other is a
  // usage error.
  std::set<std::string> options;
  // Whether -o csv means something (a listing); else it is a usage error.
  bool csv = false;
  // -o names the file to write, not the output format.
  bool output_is_file = false;
};

const std::map<std::string, Command>& Commands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"submit",
       {nas::cli::Submit,
        "submit SPEC.yaml|- [--watch]",
        "Validate a search spec (YAML; - reads standard input) and start the "
        "search; --watch follows it.",
        {"watch"}}},
      {"validate",
       {nas::cli::Validate,
        "validate SPEC.yaml|-",
        "Dry run: check a spec as submit would, on the controller too, and "
        "store nothing. Exit 0 when valid, 1 when not.",
        {}}},
      {"describe",
       {nas::cli::Describe,
        "describe SEARCH_ID",
        "Show a search: state and reason, trial counts, times, and its spec "
        "with every default filled in.",
        {}}},
      {"watch",
       {nas::cli::Watch,
        "watch SEARCH_ID",
        "Follow a search live: trials, epochs, a progress bar, best so far. "
        "Into a pipe or file: one line per event, as it happens.",
        {}}},
      {"searches",
       {nas::cli::Searches,
        "searches [--state S[,S...]] [--name TEXT] [--limit N] "
        "[--page_token T] [--all]",
        "List searches, newest first: --state running, completed, cancelled "
        "or failed; --name keeps names containing TEXT (case-sensitive); "
        "--limit per page (default 50, at most 1000); --page_token continues "
        "where the last page ended; --all includes archived searches.",
        {"state", "name", "limit", "page_token", "all"},
        true}},
      {"trials",
       {nas::cli::Trials,
        "trials SEARCH_ID [--state S[,S...]] [--sort KEY[:asc|:desc]] "
        "[--limit N] [--page_token T]",
        "List a search's trials with metrics and the last line of any failure "
        "reason, by number. --sort number or a metric (val_accuracy, "
        "test_accuracy, val_loss, test_loss, params, flops, latency_ms, "
        "train_seconds; accuracies highest first, others lowest first) over "
        "all trials; --limit N: one page of N (with --sort: the first N); "
        "--page_token continues by number.",
        {"state", "sort", "limit", "page_token"},
        true}},
      {"best",
       {nas::cli::Best,
        "best SEARCH_ID [-k N]",
        "Show the best feasible trials: by the objective, or the Pareto front "
        "when the search has several.",
        {"k"},
        true}},
      {"plot",
       {nas::cli::Plot,
        "plot SEARCH_ID -o FILE.svg|FILE.png [--chart objective|pareto]",
        "Write a search's chart as SVG or PNG, drawn as the dashboard draws "
        "it: "
        "the first objective by trial number with the best so far "
        "(default), or the Pareto front of the first two objectives.",
        {"chart"},
        false,
        true}},
      {"export",
       {nas::cli::Export,
        "export SEARCH_ID -o DIR [--trial N]",
        "Write a trained model to DIR (model.json and its weights; "
        "docs/export.md): the best trial that kept its weights, or trial N "
        "(a completed TRAIN or RETRAIN trial). nas-predict DIR IMAGE... and "
        "nas_client.load_model(DIR) use it.",
        {"trial"},
        false,
        true}},
      {"cancel",
       {nas::cli::Cancel,
        "cancel SEARCH_ID",
        "Cancel a running search; its unfinished trials are stopped.",
        {}}},
      {"extend",
       {nas::cli::Extend,
        "extend SEARCH --max_trials N",
        "Raise a search's max_trials; a completed (or failed) search runs "
        "again and its strategy builds on every earlier trial. SEARCH is "
        "an id or a unique name.",
        {"max_trials"}}},
      {"delete",
       {nas::cli::Delete,
        "delete SEARCH [--force]",
        "Delete a search with its trials and metrics, for good. A running "
        "search needs --force, which cancels it first. SEARCH is an id or a "
        "unique name.",
        {"force"}}},
      {"archive",
       {nas::cli::Archive,
        "archive SEARCH",
        "Hide a finished search from `nasctl searches` (--all shows it); "
        "its trials stay. SEARCH is an id or a unique name.",
        {}}},
      {"unarchive",
       {nas::cli::Unarchive,
        "unarchive SEARCH",
        "Show an archived search in `nasctl searches` again. SEARCH is an "
        "id or a unique name.",
        {}}},
      {"enqueue",
       {nas::cli::Enqueue,
        "enqueue SEARCH ARCH... | enqueue SEARCH --file FILE",
        "Add architectures to a running search as pending trials, run "
        "before its strategy's next proposals (warm starts). ARCH is "
        "the space's text, quoted (nb201: '|nor_conv_3x3~0|+|...|'; "
        "chain: 'stage1.depth=2 stage1.width=32 stage1.layer1.op=conv3x3 "
        "...'), or option indexes like 3,0,1,2,0,4. --file: one per "
        "line, # comments; - reads standard input. SEARCH is an id or a "
        "unique name.",
        {"file"}}},
  };
  return *commands;
}

// Options every command takes.
const std::set<std::string>& GlobalOptions() {
  static const auto* options = new std::set<std::string>{
      "controller", "output",     "tls_ca",    "tls_cert",
      "tls_key",    "token_file", "plaintext", "version"};
  return *options;
}

void PrintHelp(std::ostream& out) {
  out << "nasctl: submit and follow neural architecture searches.\n\n"
         "usage: nasctl [--controller HOST:PORT] [-o table|json|csv] COMMAND "
         "[ARGS]\n       nasctl help COMMAND\n\ncommands:\n";
  for (const auto& [name, command] : Commands()) {
    out << "  " << command.usage << "\n      " << command.help << "\n";
  }
  out << "\noptions:\n"
         "  --controller HOST:PORT  controller address (env NAS_CONTROLLER, "
         "default 127.0.0.1:50051)\n"
         "  -o, --output FORMAT     table (default), json (one object a "
         "line),\n"
         "                          or csv (searches, trials, best)\n"
         "  --tls_ca FILE           PEM CA that verifies the controller "
         "(env NAS_TLS_CA;\n"
         "                          default: the system's roots)\n"
         "  --tls_cert FILE         client certificate for mutual TLS (env "
         "NAS_CLIENT_TLS_CERT)\n"
         "  --tls_key FILE          its key (env NAS_CLIENT_TLS_KEY)\n"
         "  --token_file FILE       file holding your token (env "
         "NAS_TOKEN_FILE; else\n"
         "                          the token itself from env NAS_TOKEN)\n"
         "  --plaintext             connect without TLS (env "
         "NAS_PLAINTEXT: true, yes, 1\n"
         "                          or false, no, 0, any case)\n"
         "  --version               print nasctl's version\n"
         "  -h, --help              help for nasctl or a command\n\n"
         "exit status: 0 done, 1 refused by the controller (or spec invalid), "
         "2 usage error\n";
}

void PrintCommandHelp(const Command& command, std::ostream& out) {
  out << "usage: nasctl " << command.usage << "\n\n"
      << command.help
      << "\n\nGlobal options (--controller, -o, TLS, tokens): nasctl "
         "--help\n";
}

}  // namespace

int main(int argc, char** argv) {
  nas::UseReleaseMutexes();
  // Every option any command takes, so that values are consumed right;
  // CheckOptions below refuses those the command does not take.
  std::set<std::string> value_options = {
      "controller", "output",  "state",      "k",    "limit", "tls_ca",
      "tls_cert",   "tls_key", "token_file", "name", "sort",  "page_token",
      "max_trials", "file",    "chart",      "trial"};
  auto args = nas::cli::ParseArgs(argc, argv, value_options,
                                  {"watch", "plaintext", "version", "force",
                                   "all"});
  if (!args.ok()) {
    std::cerr << args.status().message() << "\n";
    return 2;
  }
  if (args->Get("version")) {
    std::cout << "nasctl " << NASCTL_VERSION << " (API nas.v1)\n";
    return 0;
  }
  if (args->command == "help" && !args->positional.empty()) {
    auto it = Commands().find(args->positional[0]);
    if (it == Commands().end() || args->positional.size() > 1) {
      std::cerr << "usage: nasctl help COMMAND; commands:";
      for (const auto& [name, unused] : Commands()) std::cerr << " " << name;
      std::cerr << "\n";
      return 2;
    }
    PrintCommandHelp(it->second, std::cout);
    return 0;
  }
  if (args->command.empty() || args->command == "help") {
    PrintHelp(args->help || args->command == "help" ? std::cout : std::cerr);
    return args->help || args->command == "help" ? 0 : 2;
  }
  auto it = Commands().find(args->command);
  if (it == Commands().end()) {
    std::cerr << "unknown command \"" << args->command
              << "\"; see nasctl --help\n";
    return 2;
  }
  const Command& command = it->second;
  if (args->help) {
    PrintCommandHelp(command, std::cout);
    return 0;
  }
  std::set<std::string> allowed = GlobalOptions();
  allowed.insert(command.options.begin(), command.options.end());
  if (absl::Status s = nas::cli::CheckOptions(*args, allowed); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 2;
  }
  absl::StatusOr<nas::cli::OutputFormat> output =
      nas::cli::ParseOutputFormat(command.output_is_file
                                      ? "table"
                                      : args->Get("output").value_or("table"));
  if (!output.ok()) {
    std::cerr << output.status().message() << "\n";
    return 2;
  }
  if (*output == nas::cli::OutputFormat::kCsv && !command.csv) {
    std::cerr << "-o csv: nasctl " << args->command
              << " prints no table; use -o table or -o json\n";
    return 2;
  }
  const std::string target =
      args->Get("controller")
          .value_or(nas::EnvOr("NAS_CONTROLLER", "127.0.0.1:50051"));
  nas::client::ChannelSecurity security;
  absl::StatusOr<bool> plaintext_env = nas::EnvBool("NAS_PLAINTEXT", false);
  if (!plaintext_env.ok()) {
    std::cerr << plaintext_env.status().message() << "\n";
    return 2;
  }
  security.plaintext = args->Get("plaintext").has_value() || *plaintext_env;
  security.tls_ca = args->Get("tls_ca").value_or(nas::EnvOr("NAS_TLS_CA", ""));
  security.tls_cert =
      args->Get("tls_cert").value_or(nas::EnvOr("NAS_CLIENT_TLS_CERT", ""));
  security.tls_key =
      args->Get("tls_key").value_or(nas::EnvOr("NAS_CLIENT_TLS_KEY", ""));
  absl::StatusOr<std::string> token = nas::client::LoadToken(
      args->Get("token_file").value_or(nas::EnvOr("NAS_TOKEN_FILE", "")));
  if (!token.ok()) {
    std::cerr << token.status().message() << "\n";
    return 2;
  }
  security.token = *std::move(token);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      nas::client::MakeChannel(target, security);
  if (!channel.ok()) {
    std::cerr << channel.status().message() << "\n";
    return 2;
  }

  nas::cli::Context ctx;
  ctx.stub = nas::v1::SearchService::NewStub(*std::move(channel));
  ctx.output = *output;
  ctx.json = *output == nas::cli::OutputFormat::kJson;
  ctx.in = &std::cin;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  return command.run(ctx, *args);
}
