"""The jury's consoles: web (``tai-lab serve``) and terminal (``tai-lab jury``), one service under both."""
