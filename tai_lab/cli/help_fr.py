"""The French of the command line's help texts (keyed by their English, as written in the code)
and of click's own words. A help text changed in the code needs its line here changed too:
``tests/unit/test_cli_lang.py`` lists any text left without its French."""
from __future__ import annotations

_LAB = "Lab à utiliser (par défaut : le seul lab démarré)."
_JSON = "Sortie en JSON."
_POD_NEEDED = "Le pod du candidat (à donner quand le lab en a plusieurs)."
_ONLY_POD = "Ce pod seulement (par défaut : tous)."
_YES_POD = "Ne pas demander, même si la session d’un candidat est ouverte sur le pod."

HELP_FR: dict[str, str] = {
    # ------------------------------------------------------------ the group and shared options
    "Plateau technique TAI: build pods, cut the Internet, reset, verify.":
        "Plateau technique TAI : construire les pods, couper Internet, remettre à zéro, vérifier.",
    "Lab to act on (default: the only one up).": _LAB,
    "Print data as JSON.": _JSON,
    "Show the version and exit.": "Afficher la version et quitter.",
    "Show tracebacks.": "Afficher la trace complète des erreurs (pour signaler un bogue).",
    "Language of the help and messages (fr by default; TAI_LAB_LANG too).":
        "Langue de l’aide et des messages (fr par défaut ; aussi par TAI_LAB_LANG).",
    "Number of candidate pods, 1 to 16 (overrides the scenario).":
        "Nombre de pods de candidats, de 1 à 16 (remplace celui du scénario).",
    "The candidate's pod (needed when the lab has several).": _POD_NEEDED,
    "Only this pod (default: all).": _ONLY_POD,
    "Do not ask, even if a candidate's session is open on the pod.": _YES_POD,
    "Show every check's proof (the command and its output), not only the failed ones'.":
        "Afficher la preuve de chaque vérification (la commande et sa sortie), pas seulement des échecs.",
    "Rebuild even if the recipe did not change.": "Reconstruire même si la recette n’a pas changé.",
    "The pod.": "Le pod.",
    "Only this pod.": "Ce pod seulement.",
    "Every pod.": "Tous les pods.",
    # ------------------------------------------------------------ scenarios and images
    "Check a scenario file; print every problem with file:line and a hint.":
        "Vérifier un fichier de scénario : chaque problème avec fichier:ligne et une piste.",
    "Write a starting scenario into DIRECTORY: the standard plateau, commented in French,\n"
    "and a folder for your own interventions (nothing is overwritten).":
        "Écrire un scénario de départ dans DIRECTORY : le plateau standard, commenté en français,\n"
        "et un dossier pour vos propres interventions (rien n’est écrasé).",
    "Print the JSON Schema of scenario files (for editors).":
        "Afficher le schéma JSON des fichiers de scénario (pour les éditeurs).",
    "Root filesystem images (built once, shared copy-on-write).":
        "Images des machines (construites une fois, partagées en copie sur écriture).",
    "Build image NAME: a root filesystem (debian-12), its VM disk (debian-12-vm), its\n"
    "Vagrant box for vagrant-libvirt (debian-12-vagrant), or a Windows image from the\n"
    "trainer's ISOs (windows-server-2022, windows-11).":
        "Construire l’image NAME : un système de fichiers (debian-12), son disque de VM (debian-12-vm),\n"
        "sa box Vagrant pour vagrant-libvirt (debian-12-vagrant), ou une image Windows à partir des\n"
        "ISO du formateur (windows-server-2022, windows-11).",
    "Windows: the installation ISO.": "Windows : l’ISO d’installation.",
    "Windows: the virtio-win drivers ISO.": "Windows : l’ISO des pilotes virtio-win.",
    "Windows: product key (evaluation media need none).":
        "Windows : clé de produit (inutile pour les versions d’évaluation).",
    "Known recipes and whether they are built.": "Les recettes connues et si leur image est construite.",
    # ------------------------------------------------------------ lifecycle
    "Build the plateau of SCENARIO: ISP, pods, provisioning, baseline snapshot.\n\n"
    "--lab, as every command accepts it, must be the scenario's own `lab:` name.":
        "Construire le plateau de SCENARIO : FAI, pods, configuration des machines, instantané de "
        "départ.\n\n--lab, accepté comme par toutes les commandes, doit être le nom `lab:` du scénario.",
    "nspawn (containers) or libvirt (VMs).": "nspawn (conteneurs) ou libvirt (machines virtuelles).",
    "libvirt: hypervisor URI (default qemu:///system).": "libvirt : URI de l’hyperviseur (par défaut qemu:///system).",
    "libvirt: several hypervisors (inventories/*.yaml); pods are placed by capacity.":
        "libvirt : plusieurs hyperviseurs (inventories/*.yaml) ; les pods sont placés selon la capacité.",
    "Remove everything the lab created (and nothing else).": "Supprimer tout ce que le lab a créé (et rien d’autre).",
    "The lab has no record here any more (its home was deleted, a run was killed): find what "
    "still bears its name (libvirt domains, networks and pools, namespaces, container processes, "
    "mounts) and remove it. Needs --lab.":
        "Le lab n’a plus d’état ici (son dossier a été supprimé, une commande a été tuée) : trouver ce qui "
        "porte encore son nom (domaines, réseaux et pools libvirt, espaces de noms, processus des machines, "
        "montages) et le supprimer. Demande --lab.",
    "With --orphans: the libvirt URIs to search (default qemu:///system).":
        "Avec --orphans : les URI libvirt où chercher (par défaut qemu:///system).",
    "Pods, their phase and which nodes run.": "Les pods, leur phase et les machines en marche.",
    "Run COMMAND on NODE of POD, out of band: tai-lab exec 1 pc1 -- ip addr.":
        "Exécuter COMMAND sur la machine NODE du pod POD, hors réseau du lab : tai-lab exec 1 pc1 -- ip addr.",
    "Seconds before the command is stopped.": "Secondes avant l’arrêt de la commande.",
    "prep: cut the Internet, isolate the pods; jury: give the Internet back. Then prove it.":
        "prep : couper Internet, isoler les pods ; jury : rendre Internet. Puis le prouver.",
    "Do not prove the change with the health probes.": "Ne pas prouver le changement par les vérifications.",
    "jury: go on even if a sealed pod changed (journaled).":
        "jury : continuer même si un pod scellé a changé (consigné).",
    "Health probes from the users' point of view; exit 1 if one fails.":
        "Vérifications du point de vue des utilisateurs ; code de sortie 1 si l’une échoue.",
    "Save the state of pods under NAME (nodes restart briefly).":
        "Enregistrer l’état des pods sous NAME (les machines redémarrent brièvement).",
    "Put pods back to a snapshot, then verify them (asks first if a candidate's session is open).":
        "Remettre les pods à un instantané, puis les vérifier (demande d’abord si la session d’un "
        "candidat est ouverte).",
    "Snapshot to go back to.": "Instantané auquel revenir.",
    "Destroy a pod and build it again from the scenario (slow; prefer reset).":
        "Détruire un pod et le reconstruire depuis le scénario (lent ; préférer reset).",
    "The pod to rebuild from scratch.": "Le pod à reconstruire entièrement.",
    # ------------------------------------------------------------ interventions
    "What the jury can pick: title, symptom, competencies, variants.":
        "Ce que le jury peut choisir : intitulé, symptôme, compétences, variantes.",
    "Only those evaluating this CCP (ccp1, ccp2, ccp3).": "Seulement celles qui évaluent ce CCP (ccp1, ccp2, ccp3).",
    "Only those evaluating this competency (c14…).": "Seulement celles qui évaluent cette compétence (c14…).",
    "The référentiel's competencies against the interventions.":
        "Les compétences du référentiel et les interventions qui les évaluent.",
    "With this scenario's own interventions (its interventions_dir).":
        "Avec les interventions propres à ce scénario (son interventions_dir).",
    "Copy intervention ID's file into DIR (a scenario's interventions_dir) to change it there.":
        "Copier le fichier de l’intervention ID dans DIR (l’interventions_dir d’un scénario) pour l’y modifier.",
    "Break something on a pod, prove it took, print the symptom to read out.":
        "Provoquer une panne sur un pod, prouver qu’elle a pris, afficher le symptôme à lire.",
    "Which cause (default: the first).": "Quelle cause (par défaut : la première).",
    "Pick a variant at random.": "Tirer une variante au hasard.",
    "Seed of --random (to replay a session).": "Graine de --random (pour rejouer une session).",
    "Is each active intervention fixed (RÉPARÉ, NON RÉPARÉ, CONTOURNÉ)? With the probes' evidence.":
        "Chaque intervention active est-elle réparée (RÉPARÉ, NON RÉPARÉ, CONTOURNÉ) ? Avec les preuves.",
    "Refresh until fixed (Ctrl-C to stop).": "Rafraîchir jusqu’à la réparation (Ctrl-C pour arrêter).",
    "Seconds between two checks with --watch.": "Secondes entre deux vérifications avec --watch.",
    "Survives a reboot? When fixed, restart the machines the repair touched and check again.":
        "Survit au redémarrage ? Une fois réparée, redémarrer les machines touchées par la réparation "
        "et vérifier à nouveau.",
    "Undo an intervention exactly as the journal recorded it.":
        "Défaire une intervention exactement comme le journal l’a consignée.",
    "Every active intervention of the pod.": "Toutes les interventions actives du pod.",
    # ------------------------------------------------------------ prep
    "Prep phase: start state, cahier des charges, depot, check, seal.":
        "Phase de préparation : état de départ, cahier des charges, dépôt, contrôle, scellé.",
    "Each requirement of the cahier des charges: met or not, with the evidence (exit 1 if one is not).":
        "Chaque exigence du cahier des charges : remplie ou non, avec la preuve (code 1 si l’une ne l’est pas).",
    "The offline package depot served inside the lab.": "Le dépôt de paquets hors ligne servi dans le lab.",
    "Fetch the depot's packages and dependencies once (uses the host's apt sources).":
        "Télécharger une fois les paquets du dépôt et leurs dépendances (sources apt de l’hôte).",
    "The candidate's cahier des charges in French, with the pod's own values.":
        "Le cahier des charges du candidat, avec les valeurs de son pod.",
    "The candidate's pod (default: the only one).": "Le pod du candidat (par défaut : le seul).",
    "File to write (default: cahier-pod<N>.<format>).": "Fichier à écrire (par défaut : cahier-pod<N>.<format>).",
    "Render from a scenario file instead of a running lab.":
        "Produire à partir d’un fichier de scénario plutôt que d’un lab démarré.",
    "Language of the document.": "Langue du document.",
    "Machines off, snapshot, manifest of content hashes: nothing may change before the jury.":
        "Machines arrêtées, instantané, empreintes du contenu : plus rien ne peut changer avant le jury.",
    "Pods to the prep start state; Internet cut except the package depot; start time recorded.":
        "Pods à l’état de départ de la préparation ; Internet coupé sauf le dépôt de paquets ; heure de "
        "début consignée.",
    "Do not ask, even if a candidate's session is open on a pod.": _YES_POD,
    "Compare a sealed pod with its manifest, without changing anything (exit 1 if it changed).":
        "Comparer un pod scellé à ses empreintes, sans rien changer (code 1 s’il a changé).",
    "The sealed pod.": "Le pod scellé.",
    # ------------------------------------------------------------ jury
    "The jury's web console (French; English first with --lang en, and each jury member may switch).\n"
    "Its login link stays valid across restarts (kept in the lab's directory); --show-link prints it again.":
        "La console web du jury (en français ; d’abord en anglais avec --lang en, et chaque juré peut changer).\n"
        "Son lien de connexion reste valable après un redémarrage (conservé dans le dossier du lab) ; "
        "--show-link l’affiche à nouveau.",
    "Where the console listens (loopback by default; port 0: any free port).":
        "Adresse d’écoute de la console (boucle locale par défaut ; port 0 : un port libre).",
    "Allow a non-loopback address (jury network only).":
        "Autoriser une adresse hors boucle locale (réseau du jury seulement).",
    "Print the login link of the console already running (or last run), then exit.":
        "Afficher le lien de connexion de la console démarrée (ou de la dernière), puis quitter.",
    "Make a new login link: every jury browser signed in must use the new one.":
        "Créer un nouveau lien de connexion : chaque navigateur du jury devra utiliser le nouveau.",
    "The jury's console in the terminal: pick, inject, watch, note, restore.":
        "La console du jury dans le terminal : choisir, injecter, suivre, noter, restaurer.",
    "The candidate's pod (asked when the lab has several).": "Le pod du candidat (demandé si le lab en a plusieurs).",
    "Your name as a jury member (recorded in the evidence log).":
        "Votre nom de juré (consigné dans le journal des preuves).",
    "The candidate's session report, in French (HTML or PDF), from the evidence log\n"
    "(of a lab that is up, or of one taken down: see `tai-lab archives list`); --lang en: in English.":
        "Le rapport de session du candidat, en français (HTML ou PDF), à partir du journal des preuves\n"
        "(d’un lab démarré, ou d’un lab arrêté : voir `tai-lab archives list`) ; --lang en : en anglais.",
    "Which candidate of the pod: 1 = the first (default: the current one; see the history).":
        "Quel candidat du pod : 1 = le premier (par défaut : le candidat en cours ; voir l’historique).",
    "File to write (default: a name from the lab, pod and candidate, in the current directory).":
        "Fichier à écrire (par défaut : un nom tiré du lab, du pod et du candidat, dans le dossier courant).",
    "From an archive of a lab taken down (its name, or a lab's name: its latest archive).":
        "Depuis l’archive d’un lab arrêté (son nom, ou le nom d’un lab : sa dernière archive).",
    "Add every criterion, ticked or not, as an appendix.": "Ajouter en annexe tous les critères, cochés ou non.",
    "Language of the report.": "Langue du rapport.",
    "Evidence of labs taken down (`down` archives it; only `archives remove` deletes it).":
        "Les preuves des labs arrêtés (`down` les archive ; seul `archives remove` les supprime).",
    "Archives: lab, when, pods and candidates, size, intact or not.":
        "Les archives : lab, date, pods et candidats, taille, intacte ou non.",
    "Only the archives of this lab.": "Seulement les archives de ce lab.",
    "Delete the archive NAME (the candidates' evidence in it is lost; the removal is logged).":
        "Supprimer l’archive NAME (les preuves des candidats qu’elle contient sont perdues ; la suppression "
        "est consignée).",
    "Do not ask (needed without a terminal).": "Ne pas demander (nécessaire sans terminal).",
    # ------------------------------------------------------------ stations
    "The candidates' portal: terminals in the browser, access that follows the phases.":
        "Le portail des candidats : terminaux dans le navigateur, accès qui suit les phases.",
    "The pods' access cards, in French (code, machines, accounts), to print.":
        "Les cartes d’accès des pods (code, machines, comptes), à imprimer.",
    "Only this pod (default: all, one page each).": "Ce pod seulement (par défaut : tous, une page chacun).",
    "The portal's address as the candidates type it (printed on the cards).":
        "L’adresse du portail telle que les candidats la tapent (imprimée sur les cartes).",
    "File to write (default: cartes-<lab>.<format>).": "Fichier à écrire (par défaut : cartes-<lab>.<format>).",
    "Close a pod's access by hand: its open terminals end at once.":
        "Fermer à la main l’accès d’un pod : ses terminaux ouverts se ferment aussitôt.",
    "Each pod's access code and whether its access is open (for the trainer only).":
        "Le code d’accès de chaque pod et si son accès est ouvert (pour le formateur seulement).",
    "Open a pod's access by hand (the phases open it on their own: prep, jury).":
        "Ouvrir à la main l’accès d’un pod (les phases l’ouvrent d’elles-mêmes : prep, jury).",
    "The recorded terminal sessions (asciicast v2: `asciinema play FILE`).":
        "Les sessions de terminal enregistrées (asciicast v2 : `asciinema play FILE`).",
    "A new code for the pod (a lost or seen card): the old one and its sessions end.":
        "Un nouveau code pour le pod (carte perdue ou vue) : l’ancien et ses sessions prennent fin.",
    "Run the candidates' portal (French; each pod's code opens that pod only).":
        "Lancer le portail des candidats (chaque code de pod n’ouvre que ce pod).",
    "Where the portal listens (loopback by default; port 0: any free port).":
        "Adresse d’écoute du portail (boucle locale par défaut ; port 0 : un port libre).",
    "Allow a non-loopback address (the candidates' room network only).":
        "Autoriser une adresse hors boucle locale (réseau de la salle des candidats seulement).",
    # ------------------------------------------------------------ virt
    "Print the VM plan of SCENARIO as JSON (networks, machines, MACs, addresses).\n\n"
    "The Vagrantfile at the project's root reads it: TAI_LAB_SCENARIO=… vagrant up.":
        "Afficher en JSON le plan des VM de SCENARIO (réseaux, machines, adresses MAC et IP).\n\n"
        "Le Vagrantfile à la racine du projet le lit : TAI_LAB_SCENARIO=… vagrant up.",
    "Hypervisors: what tai-lab may use on each, what its VMs use now, what is free.":
        "Les hyperviseurs : ce que tai-lab peut utiliser sur chacun, ce qu’utilisent ses VM, ce qui reste libre.",
    "Inventory of hypervisors (inventories/*.yaml).": "Inventaire des hyperviseurs (inventories/*.yaml).",
    "One libvirt host (default qemu:///system).": "Un seul hôte libvirt (par défaut qemu:///system).",
}

# Click's own words (its gettext message ids).
CLICK_FR: dict[str, str] = {
    "Usage:": "Utilisation :",
    "Options": "Options",
    "Commands": "Commandes",
    "Show this message and exit.": "Afficher cette aide et quitter.",
    "Show the version and exit.": "Afficher la version et quitter.",
    "%(prog)s, version %(version)s": "%(prog)s, version %(version)s",
    "Error: {message}": "Erreur : {message}",
    "Try '{command} {option}' for help.": "Aide : '{command} {option}'.",
    "Invalid value for {param_hint}: {message}": "Valeur invalide pour {param_hint} : {message}",
    "Invalid value: {message}": "Valeur invalide : {message}",
    "Missing argument": "Argument manquant",
    "Missing option": "Option manquante",
    "Missing parameter": "Paramètre manquant",
    "Missing {param_type}": "{param_type} manquant",
    "Missing parameter: {param_name}": "Paramètre manquant : {param_name}",
    "Missing command.": "Commande manquante.",
    "No such command {name!r}.": "Commande inconnue : {name!r}.",
    "No such option {name!r}.": "Option inconnue : {name!r}.",
    "Option {name!r} does not take a value.": "L’option {name!r} ne prend pas de valeur.",
    "Aborted!": "Abandon.",
    "default: {default}": "par défaut : {default}",
    "required": "obligatoire",
    "{value!r} is not a valid {number_type}.": "{value!r} n’est pas un {number_type} valide.",
    "{value} is not in the range {range}.": "{value} n’est pas dans l’intervalle {range}.",
    "{name} {filename!r} does not exist.": "{name} {filename!r} n’existe pas.",
    "{name} {filename!r} is a directory.": "{name} {filename!r} est un dossier.",
    "{name} {filename!r} is a file.": "{name} {filename!r} est un fichier.",
    "{name} {filename!r} is not readable.": "{name} {filename!r} n’est pas lisible.",
    "{name} {filename!r} is not writable.": "{name} {filename!r} n’est pas accessible en écriture.",
    "file": "fichier",
    "directory": "dossier",
    "path": "chemin",
    "Do you want to continue?": "Continuer ?",
    "Error: invalid input": "Erreur : réponse invalide",
    "Could not open file {filename!r}: {message}": "Impossible d’ouvrir {filename!r} : {message}",
}

CLICK_FR_PLURAL: dict[tuple[str, str], tuple[str, str]] = {
    ("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"):
        ("Argument en trop : {args}", "Arguments en trop : {args}"),
    ("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."):
        ("L’option {name!r} demande une valeur.", "L’option {name!r} demande {nargs} valeurs."),
    ("{value!r} is not {choice}.", "{value!r} is not one of {choices}."):
        ("{value!r} n’est pas {choice}.", "{value!r} n’est pas l’une des valeurs {choices}."),
    ("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"):
        ("Vouliez-vous dire {possibility} ?", "(Vouliez-vous dire l’une de : {possibilities} ?)"),
}
